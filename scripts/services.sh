#!/usr/bin/env bash
# Start PostgreSQL, MariaDB and Redis if they are down (the machine's own start commands).
# Exit status 0 when all answer afterwards; otherwise 1 and a message naming those that did not.
# Redis (127.0.0.1:6379) is the broker of the Celery hand-off tests.
set -u
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() {
  # PING over bash's /dev/tcp: no redis-cli needed.
  (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
}
maria_up() { mariadb-admin -h 127.0.0.1 -P 3306 -uroot --connect-timeout=2 ping >/dev/null 2>&1; }
if ! pg_up; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! maria_up; then
  echo "services: starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
if ! redis_up; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
status=0
for i in $(seq 1 30); do pg_up && break; sleep 1; done
pg_up || { echo "services: PostgreSQL is not answering on 127.0.0.1:5432"; status=1; }
for i in $(seq 1 30); do maria_up && break; sleep 1; done
maria_up || { echo "services: MariaDB is not answering on 127.0.0.1:3306"; status=1; }
for i in $(seq 1 30); do redis_up && break; sleep 1; done
redis_up || { echo "services: Redis is not answering on 127.0.0.1:6379"; status=1; }
exit $status
