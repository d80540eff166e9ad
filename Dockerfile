# verge control plane image: `docker build -t verge .` then
#   docker run -p 8080:8080 -p 1884:1884 -v verge-data:/data verge
# The same image runs agents (`verge agent …`); the default command is the control plane.
FROM node:20-slim

# better-sqlite3 and onnxruntime-node ship prebuilt binaries for linux-x64/arm64 glibc; the
# toolchain is only a fallback for other platforms (npm builds from source when no prebuild fits).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY tsconfig.json ./

ENV NODE_ENV=production \
    VERGE_CLOUD_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080 1884

# runs as the unprivileged 'node' user of the base image
RUN mkdir -p /data && chown node:node /data
USER node

ENTRYPOINT ["node", "bin/verge.js"]
CMD ["cloud", "--host", "0.0.0.0", "--port", "8080", "--mqtt-host", "0.0.0.0", "--mqtt-port", "1884", "--data-dir", "/data"]
