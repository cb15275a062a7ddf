#!/bin/sh
# Entrypoint of envctl-test/redis:7, written for envctl's tests to behave like
# the official "redis" image's entrypoint (setpriv stands in for gosu).
set -e

# A first argument that is a flag or a config file means "redis-server ...".
case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac

# As root: hand the working directory (/data) to redis and re-run as redis.
# Started with --user, we are already unprivileged and skip this.
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    HOME="$(getent passwd redis | cut -d: -f6)"
    export HOME
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Files redis writes are private unless the caller chose another umask.
if [ "$(umask)" = 0022 ]; then
    umask 0077
fi

# Without a config file that sets protected-mode itself, turn protected mode
# off so clients from outside the container (published ports) are accepted.
if [ "$1" = redis-server ]; then
    protected_off=1
    config=
    if [ -f "${2:-}" ]; then
        config="$2"
        if grep -q '^protected-mode' "$config"; then
            protected_off=
        fi
    fi
    if [ -n "$protected_off" ]; then
        shift                       # redis-server
        [ -z "$config" ] || shift   # config file
        # later options win, so an explicit --protected-mode yes still applies
        set -- --protected-mode no "$@"
        [ -z "$config" ] || set -- "$config" "$@"
        set -- redis-server "$@"
    fi
fi

exec "$@"
