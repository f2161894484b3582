#! /bin/sh
# SPDX-License-Identifier: Apache-2.0
# Generates configure and the Makefile templates from a git checkout.
autoreconf --install --force
