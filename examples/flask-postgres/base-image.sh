#!/usr/bin/env bash
# Makes the stack's base image from Debian's own packages (there is no
# container registry here): a minimal bookworm root made by mmdebstrap,
# imported into the engine as berth-debian:bookworm. Idempotent: an engine
# that has the image is left alone. Needs root and mmdebstrap.
#
#   examples/flask-postgres/base-image.sh [berth CLI args, e.g. -H unix:///...]
set -euo pipefail
image=${BASE_IMAGE:-berth-debian:bookworm}
berth=${BERTH:-berth}
if "$berth" "$@" image inspect "$image" >/dev/null 2>&1; then
    echo "base image $image: already there"
    exit 0
fi
command -v mmdebstrap >/dev/null || {
    echo "base-image: mmdebstrap is missing (apt-get install mmdebstrap)" >&2
    exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "base image $image: bootstrapping Debian bookworm (minbase) from deb.debian.org"
# No docs, man pages or locales; apt's lists are dropped (each build
# updates them). Certificate authorities the host added locally
# (/usr/local/share/ca-certificates: a company's, a TLS-inspecting proxy's)
# are trusted in the image too, so builds reach PyPI from where the host does.
hooks=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    hooks+=(--customize-hook='copy-in /usr/local/share/ca-certificates /usr/local/share/'
            --customize-hook='chroot "$1" update-ca-certificates >/dev/null')
fi
mmdebstrap --variant=minbase --include=ca-certificates "${hooks[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    --format=tar bookworm "$tmp/root.tar" http://deb.debian.org/debian
"$berth" "$@" import \
    -c 'CMD ["bash"]' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -m "Debian bookworm minbase, by mmdebstrap" \
    "$tmp/root.tar" "$image"
