# kube-usage-operator: compiled and packed with npm, installed with production dependencies only
# (the versions in package-lock.json), run on distroless Node 24 as a non-root user with a
# read-only root filesystem. test/integration/package.test.ts repeats the pack-and-install
# steps without Docker, checks the installed versions against the lockfile, and starts the
# result against a test cluster.
#
# The base images are build arguments; the defaults are the public images a user builds with.
# The test environment builds both from the `node` package's binary on machines without an
# image registry (scripts/testenv/images.sh): the runtime base needs /nodejs/bin/node and a
# user 65532, the build base npm, sh, tar and find.
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the only ones belong to dev tools (the `node` package would fetch a second Node).
RUN --mount=type=cache,target=/root/.npm npm install --ignore-scripts --no-audit --no-fund
COPY . .
RUN node --import tsx scripts/build-ui.ts
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /package \
 && tar -xzf /tmp/kube-usage-operator-*.tgz -C /package --strip-components=1

FROM ${BUILD_IMAGE} AS install
WORKDIR /app
COPY --from=build /package/ ./
COPY package-lock.json ./
# Type declarations and source maps of the dependencies are never read at run time (a third of
# the installed size); the operator's own maps in dist/ stay for --enable-source-maps.
RUN --mount=type=cache,target=/root/.npm npm install --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -exec rm -f {} +

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="kube-usage-operator" \
      org.opencontainers.image.description="Records what every container uses, keeps the history in MongoDB, and raises alerts that live on custom resources" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# Owned by root and read-only for the process: nothing in the image is writable at run time.
COPY --from=install /app/ ./
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/cmd/operator.js"]
