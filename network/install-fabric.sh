#!/usr/bin/env bash
# Install the pinned Fabric and Fabric CA binaries with `go install`, into a cache outside the repo,
# and copy Fabric's sampleconfig (core.yaml, orderer.yaml) beside them. Skips what is already there.
set -eu

FABRIC_COMMIT=86c1172bec37e6590c6b1ae6f847833df48d65fc   # tag v3.1.5 (Fabric's go.mod has no /v3 suffix)
FABRIC_CA_VERSION=v1.5.21
FABRIC_HOME=${FABRIC_HOME:-$HOME/.cache/careledger/fabric-3.1.5}
FABRIC_BIN=${FABRIC_BIN:-$FABRIC_HOME/bin}
CONFIG_DIR=${FABRIC_SAMPLECONFIG:-$FABRIC_HOME/config}

have_all() {
  for b in peer orderer configtxgen osnadmin fabric-ca-server fabric-ca-client; do
    [ -x "$FABRIC_BIN/$b" ] || return 1
  done
  [ -f "$CONFIG_DIR/core.yaml" ] && [ -f "$CONFIG_DIR/orderer.yaml" ]
}

if have_all; then
  echo "Fabric binaries present in $FABRIC_BIN (and sampleconfig in $CONFIG_DIR): nothing to do"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed. Install Go 1.24 or newer (https://go.dev/dl), then run 'make fabric' again." >&2
  exit 2
fi

mkdir -p "$FABRIC_BIN" "$CONFIG_DIR"
export GOBIN="$FABRIC_BIN"
fail() {
  cat >&2 <<MSG
error: 'go install' of $1 failed (output above).
  If the Go module proxy refused the module ('403 Forbidden' / 'This module version is not available'),
  this machine cannot install Fabric through it. Put Fabric v3.1.5 binaries (peer, orderer, configtxgen,
  osnadmin) and Fabric CA v1.5.21 binaries (fabric-ca-server, fabric-ca-client) in $FABRIC_BIN, and
  Fabric's sampleconfig core.yaml and orderer.yaml in $CONFIG_DIR (or point FABRIC_BIN and
  FABRIC_SAMPLECONFIG at folders that hold them), then run 'make network-up'.
MSG
  exit 1
}

start=$(date +%s)
echo "installing Fabric v3.1.5 (peer, orderer, configtxgen, osnadmin) into $FABRIC_BIN ..."
go install "github.com/hyperledger/fabric/cmd/peer@$FABRIC_COMMIT" \
           "github.com/hyperledger/fabric/cmd/orderer@$FABRIC_COMMIT" \
           "github.com/hyperledger/fabric/cmd/configtxgen@$FABRIC_COMMIT" \
           "github.com/hyperledger/fabric/cmd/osnadmin@$FABRIC_COMMIT" || fail "Fabric $FABRIC_COMMIT"
echo "installing Fabric CA $FABRIC_CA_VERSION (fabric-ca-server needs cgo and gcc) ..."
CGO_ENABLED=1 go install "github.com/hyperledger/fabric-ca/cmd/fabric-ca-server@$FABRIC_CA_VERSION" \
           "github.com/hyperledger/fabric-ca/cmd/fabric-ca-client@$FABRIC_CA_VERSION" || fail "Fabric CA $FABRIC_CA_VERSION"

# Fabric's defaults come from the module go install downloaded; our settings go on top at run time.
module_dir=$(go list -m -f '{{.Dir}}' "github.com/hyperledger/fabric@$FABRIC_COMMIT" 2>/dev/null || true)
if [ -z "$module_dir" ] || [ ! -f "$module_dir/sampleconfig/core.yaml" ]; then
  module_dir=$(ls -d "$(go env GOMODCACHE)"/github.com/hyperledger/fabric@*"${FABRIC_COMMIT:0:12}" 2>/dev/null | head -n 1)
fi
[ -f "$module_dir/sampleconfig/core.yaml" ] || { echo "error: Fabric's sampleconfig not found in the module cache" >&2; exit 1; }
cp "$module_dir/sampleconfig/core.yaml" "$module_dir/sampleconfig/orderer.yaml" "$CONFIG_DIR/"
echo "Fabric installed in $(( $(date +%s) - start )) s: $FABRIC_BIN"
