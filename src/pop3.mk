# POP3 protocol: command parsing, AUTHORIZATION (pre-auth child), TRANSACTION/UPDATE (session).
