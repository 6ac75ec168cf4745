# signalscaler: multi-stage build on Debian 12. The build stage installs its
# packages with the same script CI uses (.ci/install-deps); the runtime stage
# carries the runtime libraries and the binary only, and runs as non-root.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY .ci/install-deps .ci/install-deps
RUN bash .ci/install-deps build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSIGNALSCALER_BUILD_TESTS=OFF -DSIGNALSCALER_WERROR=ON \
 && cmake --build /build -j "$(nproc)" --target signalscaler \
 && strip /build/scaler/signalscaler

FROM debian:bookworm-slim
COPY .ci/install-deps /tmp/install-deps
RUN bash /tmp/install-deps runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps \
 && useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin signalscaler
COPY --from=build /build/scaler/signalscaler /usr/local/bin/signalscaler
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["signalscaler", "serve"]
