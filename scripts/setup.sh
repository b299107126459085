#!/usr/bin/env bash
# Set up sat_hw on Debian 12 / Python 3.11: the data package, a venv in .venv, sat_hw editable.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)  # Debian splits venv out
command -v g++ >/dev/null || need+=(g++)  # HLS C-simulation (and Verilator) compile with it
command -v make >/dev/null || need+=(make)  # Verilator's generated makefiles
command -v perl >/dev/null || need+=(perl)  # the verilator driver script
command -v ccache >/dev/null || need+=(ccache)  # Verilator's runtime compiles once for all builds
[ -f /usr/include/lz4.h ] || need+=(liblz4-dev)  # FST waveforms (sat_hw sim --waves)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v tclsh >/dev/null || need+=(tcl)  # the tests parse the generated Vivado scripts
if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need[@]}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
