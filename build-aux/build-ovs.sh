#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Extracts Debian's Open vSwitch source (package openvswitch-source), or
# the tarball that $OVS_TARBALL names (as the RPM build does), into a
# directory and builds it with AF_XDP, so that OVS-SLB can be configured
# with --with-ovs-source=DIR.  A finished build of the same tarball is
# reused, so running this again costs nothing.
#
# usage: build-aux/build-ovs.sh [DIR [CONFIGURE-OPTION...]]
#
# DIR defaults to ./ovs.  The options go to OVS's configure: packages
# give it Debian's paths (--prefix=/usr --localstatedir=/var ...), which
# become the default locations of the sockets that OVS-SLB's daemons use.

set -e

tarball=${OVS_TARBALL:-/usr/src/openvswitch/openvswitch.tar.gz}
dir=${1:-ovs}
[ $# -gt 0 ] && shift
jobs=$(nproc 2>/dev/null || echo 2)

if [ ! -f "$tarball" ]; then
    echo "build-ovs: $tarball not found (apt-get install openvswitch-source)" >&2
    exit 1
fi

# The stamp records which tarball the tree came from, with which options,
# and that its build finished; anything else means start again from a
# clean extraction.
stamp="$dir/.slb-build-stamp"
want="$(stat -c '%s %Y' "$tarball")${*:+ $*}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -f "$dir/lib/libopenvswitch.la" ]; then
    echo "build-ovs: reusing the OVS build in $dir"
    exit 0
fi

echo "build-ovs: extracting $tarball into $dir"
rm -rf "$dir"
mkdir -p "$dir"
tar -xzf "$tarball" -C "$dir" --strip-components=1

cd "$dir"
# Debian's python3, not a pyenv shim: ovsdb-idlc and ovsdb-doc must import
# the ovs package of this tree, and nothing else on the machine.
./configure --enable-afxdp PYTHON3=/usr/bin/python3 "$@" >configure.out 2>&1 || {
    tail -n 30 configure.out >&2
    echo "build-ovs: OVS configure failed (see $dir/configure.out)" >&2
    exit 1
}
make -j"$jobs" >make.out 2>&1 || {
    tail -n 30 make.out >&2
    echo "build-ovs: OVS build failed (see $dir/make.out)" >&2
    exit 1
}
echo "$want" > .slb-build-stamp
echo "build-ovs: built OVS $(sed -n 's/^m4_define(\[AT_PACKAGE_VERSION\], *\[\(.*\)\])/\1/p' package.m4) in $dir"
