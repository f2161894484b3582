# SPDX-License-Identifier: Apache-2.0
# rhel/: RPM packaging (./quickstart rpm), and what it takes from debian/:
# the systemd units, their settings and the database's start script.
EXTRA_DIST += rhel/ovs-slb.spec rhel/ovs-slb.spec.in rhel/ovs-slb-mux.sysusers \
	rhel/rpmlint.toml \
	debian/ovs-slb-central.service debian/ovs-slb-agent.service \
	debian/ovs-slb-mux.service debian/ovs-slb-central.default \
	debian/ovs-slb-agent.default debian/ovs-slb-mux.default \
	debian/scripts/ovs-slb-central
