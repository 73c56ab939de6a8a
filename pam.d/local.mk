# SPDX-License-Identifier: BSD-2-Clause
pamconfdir = $(pamdir)
dist_pamconf_DATA = pam.d/popa3d
