# SPDX-License-Identifier: Apache-2.0
# ovsdb-schema/: the SLB database schema and its documentation.

pkgdata_DATA = ovsdb-schema/slb.ovsschema
EXTRA_DIST += ovsdb-schema/slb.ovsschema ovsdb-schema/slb.xml

# The schema's "cksum" must match its text, so that a changed schema
# cannot ship without a new version number and checksum.
ALL_LOCAL += ovsdb-schema/slb.ovsschema.stamp
ovsdb-schema/slb.ovsschema.stamp: ovsdb-schema/slb.ovsschema
	$(AM_V_GEN)$(MKDIR_P) ovsdb-schema && \
	$(OVS_SRCDIR)/build-aux/cksum-schema-check $? $@
CLEANFILES += ovsdb-schema/slb.ovsschema.stamp

# slb(5), generated from slb.xml by OVS's ovsdb-doc.
man_MANS += ovsdb-schema/slb.5
CLEANFILES += ovsdb-schema/slb.5
ovsdb-schema/slb.5: ovsdb-schema/slb.ovsschema ovsdb-schema/slb.xml
	$(AM_V_GEN)$(MKDIR_P) ovsdb-schema && \
	$(OVSDB_DOC) --version=$(VERSION) \
		$(srcdir)/ovsdb-schema/slb.ovsschema \
		$(srcdir)/ovsdb-schema/slb.xml > $@.doc && \
	sed 's/Open vSwitch Manual/OVS-SLB Manual/' $@.doc > $@.tmp && \
	rm $@.doc && mv $@.tmp $@
