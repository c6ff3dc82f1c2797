#!/usr/bin/env bash
# Installs the Debian packages pgdog-control needs to build, run and test.
# Idempotent: asks apt only for what is missing, so a warm machine costs ~0 s.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build make pkg-config binutils clang-format
  # libraries (Debian 12): Boost 1.74 for DLL/Beast/Asio, the rest by name
  libboost1.74-dev libboost-filesystem1.74-dev libboost-system1.74-dev
  libcpprest-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev prometheus-cpp-dev
  # test and benchmark tools: promtool (checks /metrics), wrk (HTTP load), curl
  prometheus wrk curl procps python3 openssl
  # the OCI image (make image) and its tests: buildah builds it daemonless,
  # podman runs it with runc (crun fails on these hosts' hybrid cgroups);
  # CNI plugins and iptables publish container ports
  buildah podman runc containernetworking-plugins iptables ca-certificates
  # request-parser fuzzing (libFuzzer needs clang and its runtime)
  clang libclang-rt-14-dev
  # the dashboard's browser tests (playwright-core drives Debian's Chromium)
  chromium fonts-liberation
  # HA fault injection: wall-clock jumps and clock-rate changes per replica
  faketime libfaketime
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Go builds the test kube-apiserver, etcd and kubectl (tests/kube); Debian's
# Go is too old for Kubernetes 1.37, so it is not installed from here.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: warning: no 'npm' on PATH; the dashboard is built with Node.js >= 20 and npm" >&2
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: warning: no 'go' on PATH; the tests against a real kube-apiserver need Go >= 1.26" >&2
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
