# Authentication backends (run only in the throwaway root auth helper).
noinst_LIBRARIES += auth/libauth.a
auth_libauth_a_SOURCES = auth/auth.h
