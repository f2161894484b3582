#! /bin/sh
# Generates configure and the Makefile templates from a git checkout.
autoreconf --install --force
