/** Stylesheets imported by the pages are bundled by esbuild (src/web/build.ts). */
declare module '*.css';
