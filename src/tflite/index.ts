/** TensorFlow Lite interop: read .tflite flatbuffers and convert them to ONNX. */
export { tfliteToOnnx, unsupportedOperators, TFLITE_IMPORT_OPSET, TFLITE_IMPORT_IR_VERSION } from './import.ts';
export { readTflite, type TfliteModel, type TfliteSubgraph, type TfliteTensor, type TfliteOperator } from './read.ts';
export { TFLITE_IMPORTERS, type TfliteImporter } from './ops/index.ts';

/** Whether `bytes` start like a TFLite flatbuffer (file identifier "TFL3" at offset 4). */
export function isTflite(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!) === 'TFL3';
}
export { onnxToTflite, unexportableOperators, type TfliteExportOptions } from './export.ts';
export { writeTflite, type TfliteGraphOut, type TfliteTensorOut, type TfliteOperatorOut } from './write.ts';
