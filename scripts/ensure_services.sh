#!/usr/bin/env bash
# Make sure the services the test suite talks to are up on 127.0.0.1: start them if they are installed
# but down, and say exactly what is missing if they are not installed.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {  # name port seconds
    for _ in $(seq "$3"); do port_open "$2" && return 0; sleep 1; done
    echo "error: $1 was started but does not answer on 127.0.0.1:$2 after $3 s." >&2
    exit 1
}

if ! port_open 5432; then
    if compgen -G "/etc/postgresql/*" >/dev/null && command -v pg_ctlcluster >/dev/null; then
        echo "PostgreSQL is down; starting it."
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
        wait_for_port PostgreSQL 5432 30
    else
        echo "error: PostgreSQL is not installed (apt-get install postgresql) and nothing listens on 127.0.0.1:5432." >&2
        exit 1
    fi
fi

if ! port_open 6379; then
    if command -v redis-server >/dev/null; then
        echo "Redis is down; starting it."
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
        wait_for_port Redis 6379 15
    else
        echo "error: Redis is not installed (apt-get install redis-server) and nothing listens on 127.0.0.1:6379." >&2
        exit 1
    fi
fi

if ! port_open 5672; then
    if command -v rabbitmq-server >/dev/null; then
        echo "RabbitMQ is down; starting it."
        rabbitmq-server -detached
        wait_for_port RabbitMQ 5672 90
    else
        echo "error: RabbitMQ is not installed (apt-get install rabbitmq-server) and nothing listens on 127.0.0.1:5672." >&2
        exit 1
    fi
fi

# The database the suite's settings name (pytest-django creates test_<name> beside it).
db="${1:-candor}"
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$db\"" \
    || { echo "error: cannot create the database '$db' as user postgres on 127.0.0.1:5432." >&2; exit 1; }
