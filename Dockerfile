# verge image: `docker build -t verge .` then
#   docker run -p 8080:8080 -p 1884:1884 -v verge-data:/data verge
# The same image runs agents (`verge agent …`); the default command is the control plane.
# Two stages: the build stage compiles src/ to dist/ (TypeScript is a dev dependency); the image
# keeps production dependencies and the compiled JavaScript only, and runs as a non-root user.
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
# onnxruntime-node's install script would download CUDA providers; verge uses its CPU binaries
ENV ONNXRUNTIME_NODE_INSTALL=skip
# better-sqlite3 ships prebuilt binaries for linux-x64/arm64 glibc; the toolchain is a fallback
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
# `npm run build`: tsc, scripts/dist-package.mjs (dist/package.json), scripts/bundle-cli.mjs (the CLI as
# a few ES modules), the browser app (src/web/build.ts, which copies the Fashion-MNIST subset for the
# in-tab training page)
COPY scripts/dist-package.mjs scripts/bundle-cli.mjs ./scripts/
COPY data/fashion-mnist-subset ./data/fashion-mnist-subset
COPY src ./src
RUN npm run build && npm prune --omit=dev && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    VERGE_CLOUD_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the fallback dataset the package ships (`--data fashion-mnist` without Debian's package)
COPY --from=build /app/data ./data
COPY bin ./bin
VOLUME ["/data"]
EXPOSE 8080 1884
# runs as the unprivileged 'node' user of the base image
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "bin/verge.js"]
CMD ["cloud", "--host", "0.0.0.0", "--port", "8080", "--mqtt-host", "0.0.0.0", "--mqtt-port", "1884", "--data-dir", "/data"]
