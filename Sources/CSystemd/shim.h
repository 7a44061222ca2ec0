// Debian's libsystemd (libsystemd-dev): sd_notify for the service manager, sd_journal_sendv and
// sd_journal_stream_fd for journald. The variadic calls are left out on purpose: Swift cannot import them.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
