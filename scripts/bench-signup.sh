#!/usr/bin/env bash
# Load test of the signup endpoint over HTTP, as in the README:
# a fresh SQLite database (or HERALD_DATABASE_URL), an SMTP sink that takes
# 50 ms per message, wrk with 2 threads and 20 connections posting a new
# address per request. Prints signups/s, non-2xx answers and Herald's CPU
# time per signup. Needs wrk (apt-get install wrk).
#   scripts/bench-signup.sh [seconds]
set -euo pipefail
secs=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
sink_src=${SMTPSINK_DIR:-$root/../shared/tools/smtpsink}
cp -r "$sink_src" "$work/sink" && chmod -R u+w "$work/sink"
(cd "$work/sink" && go build -o "$work/smtpsink" .)
(cd "$root" && go build -o "$work/herald" ./cmd/herald)
"$work/smtpsink" -addr 127.0.0.1:2599 -delay 50ms >"$work/sink.log" 2>&1 &
export HERALD_DATABASE_URL=${HERALD_DATABASE_URL:-sqlite:$work/herald.db}
export HERALD_LISTEN=127.0.0.1:8599 HERALD_SMTP_URL=smtp://127.0.0.1:2599 HERALD_SIGNUP_LIMIT=0
tok=$("$work/herald" token create bench --create 2>/dev/null)
"$work/herald" serve >"$work/herald.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -fs http://$HERALD_LISTEN/healthz >/dev/null && break; sleep 0.1; done
curl -fs -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
  -d '{"slug":"daily","name":"Daily"}' http://$HERALD_LISTEN/api/v1/lists >/dev/null || true
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
c0=$(cpu)
(sleep 3; curl -s "http://127.0.0.1:6061/debug/pprof/profile?seconds=8" > /tmp/srv.prof) & out=$(wrk -t2 -c20 -d${secs}s -s "$root/scripts/signup.lua" http://$HERALD_LISTEN)
c1=$(cpu)
echo "$out" | tail -1
n=$(echo "$out" | sed -n 's/.*requests: \([0-9]*\).*/\1/p')
hz=$(getconf CLK_TCK)
awk -v c=$((c1-c0)) -v n="$n" -v hz="$hz" 'BEGIN{printf "herald CPU per signup: %.0f µs\n", c/hz/n*1e6}'
grep -c 'level=ERROR' "$work/herald.log" | sed 's/^/herald errors logged: /' || true
