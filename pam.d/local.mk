pamconfdir = $(pamdir)
dist_pamconf_DATA = pam.d/popa3d
