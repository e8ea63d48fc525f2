# The deployment's NTP server (see chrony/README.md). Build from the repository root:
#   docker build -f docker/chrony.Dockerfile -t pladmed-chrony .
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chrony \
    && rm -rf /var/lib/apt/lists/*
COPY chrony/chrony.conf /etc/chrony/chrony.conf
EXPOSE 123/udp
HEALTHCHECK --interval=60s --timeout=5s CMD ["chronyc", "-n", "tracking"]
# chronyd starts as root to bind port 123, then drops to the _chrony user by itself.
# -x: never steer the clock, which a container shares with its host.
ENTRYPOINT ["chronyd", "-d", "-x", "-f", "/etc/chrony/chrony.conf"]
