# The rmq image: rmq-operator, rmq-broker, rmq-namesrv, rmq-controller and rmqctl on PATH, the shared libraries
# they load, CA certificates and a non-root user (rmq, uid/gid 65532). No shell, no package
# manager: the runtime stage is FROM scratch.
#
#   docker build -t rmq:dev .                               Rust build stage (needs registry access)
#   scripts/build-image.sh                                  the same, or from host binaries (below)
#
# RMQ_BINARIES selects where the root filesystem comes from:
#   source    (default) compile the release binaries in the rust image, then assemble the rootfs
#   prebuilt  take a rootfs assembled on the host by scripts/image-rootfs.sh, in the build
#             context's `.image-rootfs/` (scripts/build-image.sh --bin-dir does this); no base image
#             is pulled, so it builds on machines that reach no image registry.
ARG RMQ_BINARIES=source
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm

FROM ${RUST_IMAGE} AS source
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p rmq-operator -p rmq-broker -p rmq-namesrv -p rmq-controller -p rmqctl \
 && scripts/image-rootfs.sh /rootfs target/release

FROM scratch AS prebuilt
COPY .image-rootfs/ /rootfs/

FROM ${RMQ_BINARIES} AS rootfs

FROM scratch
COPY --from=rootfs /rootfs/ /
COPY --from=rootfs --chown=65532:65532 /rootfs/home/rmq/ /home/rmq/
COPY --from=rootfs --chown=65532:65532 /rootfs/var/lib/rmq/ /var/lib/rmq/
ENV PATH=/usr/local/bin HOME=/home/rmq SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/rmq
# remoting (nameserver, broker), broker HA, HTTP health (nameserver 9883, broker 10918)
EXPOSE 9876 10911 10912 9883 10918
CMD ["rmqctl", "--help"]
LABEL org.opencontainers.image.title="rmq" \
      org.opencontainers.image.description="RocketMQ-compatible nameserver and broker in Rust, and its Kubernetes operator" \
      org.opencontainers.image.source="https://github.com/rmq-dev/rmq" \
      org.opencontainers.image.licenses="Apache-2.0"
