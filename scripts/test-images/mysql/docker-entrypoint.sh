#!/usr/bin/env bash
# envctl-test/mysql entrypoint: the environment contract of the official "mysql"
# image (docker-library/mysql), served by Debian's MariaDB.
#
#   MYSQL_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD / MYSQL_RANDOM_ROOT_PASSWORD
#       one is required when the data directory is new
#   MYSQL_ROOT_HOST     host part of the extra root account (default '%')
#   MYSQL_DATABASE      database created at first start
#   MYSQL_USER, MYSQL_PASSWORD
#                       account created at first start, with all privileges on
#                       MYSQL_DATABASE
#   *_FILE              any of the above read from a file (docker secrets)
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz|*.sql.zst
#                       run at first start, in name order, against MYSQL_DATABASE
#
# First start: the data directory is initialised, a temporary server listening
# on the unix socket only (--skip-networking) runs the setup and the init files,
# it is shut down, and the real server starts listening on 3306. So a TCP client
# can only ever talk to a fully initialised server.
set -Eeo pipefail
shopt -s nullglob

mysql_log() {
    local type="$1"; shift
    local text="$*"; if [ "$#" -eq 0 ]; then text="$(cat)"; fi
    printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$type" "$text"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() { mysql_log ERROR "$@" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR from VAR or VAR_FILE (not both)
file_env() {
    local var="$1" fileVar="${1}_FILE" def="${2:-}"
    if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
        mysql_error "Both $var and $fileVar are set (but are exclusive)"
    fi
    local val="$def"
    if [ "${!var:-}" ]; then
        val="${!var}"
    elif [ "${!fileVar:-}" ]; then
        val="$(< "${!fileVar}")"
    fi
    export "$var"="$val"
    unset "$fileVar"
}

# the server's own options, as the official image reads them (one --help for all: each
# run of it takes the better part of a second)
mysql_get_config() {
    local conf="$1"
    awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }' \
        <<<"$SERVER_HELP"
}

docker_setup_env() {
    SERVER_HELP="$("$@" --verbose --help 2>/dev/null)"
    DATADIR="$(mysql_get_config 'datadir')"
    DATADIR="${DATADIR%/}"
    SOCKET="$(mysql_get_config 'socket')"
    file_env 'MYSQL_ROOT_HOST' '%'
    file_env 'MYSQL_DATABASE'
    file_env 'MYSQL_USER'
    file_env 'MYSQL_PASSWORD'
    file_env 'MYSQL_ROOT_PASSWORD'
    DATABASE_ALREADY_EXISTS=
    if [ -d "$DATADIR/mysql" ]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

docker_verify_minimum_env() {
    if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] &&
        [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
        mysql_error <<-'EOF'
			Database is uninitialized and password option is not specified
			    You need to specify one of the following as an environment variable:
			    - MYSQL_ROOT_PASSWORD
			    - MYSQL_ALLOW_EMPTY_PASSWORD
			    - MYSQL_RANDOM_ROOT_PASSWORD
		EOF
    fi
    if [ "$MYSQL_USER" = root ]; then
        mysql_error <<-'EOF'
			MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user
			    Remove MYSQL_USER="root" and use one of the following to control the root user password:
			    - MYSQL_ROOT_PASSWORD
			    - MYSQL_ALLOW_EMPTY_PASSWORD
			    - MYSQL_RANDOM_ROOT_PASSWORD
		EOF
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
        mysql_warn 'MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created'
    elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        mysql_warn 'MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored'
    fi
}

docker_create_db_directories() {
    mkdir -p "$DATADIR"
    local socket_dir
    socket_dir="$(dirname "$SOCKET")"
    mkdir -p "$socket_dir"
    if [ "$(id -u)" = 0 ]; then
        chown mysql:mysql "$DATADIR" "$socket_dir"
        chmod 1777 "$socket_dir"
    fi
}

docker_init_database_dir() {
    mysql_note "Initializing database files"
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=normal --rpm --cross-bootstrap \
        --default-time-zone=SYSTEM --enforce-storage-engine= --skip-log-bin \
        --loose-innodb_buffer_pool_load_at_startup=0 \
        --loose-innodb_buffer_pool_dump_at_shutdown=0 >/dev/null
    mysql_note "Database files initialized"
}

docker_temp_server_start() {
    "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" \
        --wsrep_on=OFF --loose-innodb_buffer_pool_load_at_startup=0 &
    TEMP_SERVER_PID=$!
    mysql_note "Waiting for server startup"
    # as the official image: poll until the socket answers, bounded (600 x 0.1 s); the
    # server exiting ends the wait at once (mysqladmin --wait would sleep 5 s per retry)
    local i
    for i in {600..0}; do
        if mysqladmin --no-defaults --socket="$SOCKET" --user=root --connect-timeout=1 \
            ping >/dev/null 2>&1; then
            break
        fi
        kill -0 "$TEMP_SERVER_PID" 2>/dev/null || mysql_error "Unable to start server."
        sleep 0.1
    done
    [ "$i" -gt 0 ] || mysql_error "Unable to start server."
    mysql_note "Temporary server started."
}

docker_temp_server_stop() {
    if ! mysqladmin --no-defaults --socket="$SOCKET" --user=root \
        ${MYSQL_ROOT_PASSWORD:+--password="$MYSQL_ROOT_PASSWORD"} shutdown; then
        mysql_error "Unable to shut down server."
    fi
    wait "$TEMP_SERVER_PID" || true
    mysql_note "Temporary server stopped"
}

# docker_process_sql [--dont-use-mysql-root-password] [--database=NAME] < SQL
docker_process_sql() {
    local passfile=() database=()
    if [ "${1:-}" = '--dont-use-mysql-root-password' ]; then
        shift
    elif [ -n "$MYSQL_ROOT_PASSWORD" ]; then
        passfile=(--password="$MYSQL_ROOT_PASSWORD")
    fi
    if [ -n "${1:-}" ] && [ "${1#--database=}" != "$1" ]; then
        database=("$1")
        shift
    elif [ -n "$MYSQL_DATABASE" ]; then
        database=(--database="$MYSQL_DATABASE")
    fi
    mysql --no-defaults --protocol=socket --socket="$SOCKET" --user=root "${passfile[@]}" \
        --comments "${database[@]}" "$@"
}

# 'a'b -> 'a\'b' for use inside SQL string literals
docker_sql_escape_string_literal() {
    local newline=$'\n'
    local escaped=${1//\\/\\\\}
    escaped="${escaped//$newline/\\n}"
    echo "${escaped//\'/\\\'}"
}

docker_setup_db() {
    if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
        MYSQL_ROOT_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
        export MYSQL_ROOT_PASSWORD
        mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    local rootPasswordEscaped rootCreate=
    rootPasswordEscaped="$(docker_sql_escape_string_literal "${MYSQL_ROOT_PASSWORD}")"
    if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != 'localhost' ]; then
        rootCreate="CREATE USER 'root'@'${MYSQL_ROOT_HOST}' IDENTIFIED BY '${rootPasswordEscaped}';
            GRANT ALL ON *.* TO 'root'@'${MYSQL_ROOT_HOST}' WITH GRANT OPTION;
            GRANT PROXY ON ''@'%' TO 'root'@'${MYSQL_ROOT_HOST}' WITH GRANT OPTION;"
    fi
    # as the official image: root@localhost and root@MYSQL_ROOT_HOST only (the
    # install also made password-less root@127.0.0.1/::1/hostname), no anonymous accounts
    docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN=0;
		DROP USER IF EXISTS ''@'localhost', ''@'$(hostname)', 'root'@'127.0.0.1', 'root'@'::1',
		    'root'@'$(hostname)';
		ALTER USER 'root'@'localhost' IDENTIFIED BY '${rootPasswordEscaped}';
		${rootCreate}
		DROP DATABASE IF EXISTS test;
		FLUSH PRIVILEGES;
	EOSQL
    if [ -n "$MYSQL_DATABASE" ]; then
        mysql_note "Creating database ${MYSQL_DATABASE}"
        docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
    fi
    if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        mysql_note "Creating user ${MYSQL_USER}"
        local userPasswordEscaped
        userPasswordEscaped="$(docker_sql_escape_string_literal "${MYSQL_PASSWORD}")"
        docker_process_sql --database=mysql <<<"CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$userPasswordEscaped';"
        if [ -n "$MYSQL_DATABASE" ]; then
            mysql_note "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
            docker_process_sql --database=mysql <<<"GRANT ALL ON \`${MYSQL_DATABASE//_/\\_}\`.* TO '$MYSQL_USER'@'%';"
        fi
    fi
}

# docker_process_init_files FILE...
docker_process_init_files() {
    echo
    local f
    for f; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    mysql_note "$0: running $f"
                    "$f"
                else
                    mysql_note "$0: sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) mysql_note "$0: running $f"; docker_process_sql <"$f"; echo ;;
            *.sql.bz2) mysql_note "$0: running $f"; bunzip2 -c "$f" | docker_process_sql; echo ;;
            *.sql.gz) mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql; echo ;;
            *.sql.xz) mysql_note "$0: running $f"; xzcat "$f" | docker_process_sql; echo ;;
            *.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | docker_process_sql; echo ;;
            *) mysql_warn "$0: ignoring $f" ;;
        esac
    done
}

_main() {
    # a first argument that is an option means: options for mysqld
    if [ "${1:0:1}" = '-' ]; then
        set -- mysqld "$@"
    fi
    if [ "$1" = 'mysqld' ] || [ "$1" = 'mariadbd' ]; then
        mysql_note "Entrypoint script for MySQL Server (envctl-test, MariaDB $(mariadbd --version | awk '{print $3}')) started."
        docker_setup_env "$@"
        docker_create_db_directories
        if [ "$(id -u)" = 0 ]; then
            mysql_note "Switching to dedicated user 'mysql'"
            exec setpriv --reuid=mysql --regid=mysql --init-groups "$BASH_SOURCE" "$@"
        fi
        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            docker_verify_minimum_env
            ls /docker-entrypoint-initdb.d/ >/dev/null
            docker_init_database_dir "$@"
            mysql_note "Starting temporary server"
            docker_temp_server_start "$@"
            docker_setup_db
            docker_process_init_files /docker-entrypoint-initdb.d/*
            mysql_note "Stopping temporary server"
            docker_temp_server_stop
            echo
            mysql_note "MySQL init process done. Ready for start up."
            echo
        else
            mysql_note "MySQL database directory appears to contain a database; Skipping initialization"
        fi
    fi
    exec "$@"
}

# sourced (by an init script): only define the functions
if ! (return 0 2>/dev/null); then
    _main "$@"
fi
