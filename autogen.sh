#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Same as `autoreconf -fi`: generate configure and Makefile.in.
set -e
cd "$(dirname "$0")"
exec autoreconf -fi
