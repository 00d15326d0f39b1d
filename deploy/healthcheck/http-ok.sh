#!/bin/sh
# Healthcheck for the images we do not build (nats, prometheus, grafana):
# exits 0 when GET http://127.0.0.1:PORT/PATH answers 2xx, with whatever
# HTTP client the image has: wget (alpine/busybox images: nats:2.10-alpine,
# prom/prometheus, grafana/grafana), curl, or bash's /dev/tcp (the offline
# Debian stand-ins of shared/offline-containers, which have neither).
# usage: http-ok.sh PORT PATH
port=$1 path=$2
url="http://127.0.0.1:${port}${path}"
if command -v wget >/dev/null 2>&1; then exec wget -q -T 4 -O /dev/null "$url"; fi
if command -v curl >/dev/null 2>&1; then exec curl -fsS -m 4 -o /dev/null "$url"; fi
if command -v bash >/dev/null 2>&1; then
  exec bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
    IFS=" " read -r -t 4 _ status _ <&3 || exit 1
    case $status in 2??) exit 0 ;; *) exit 1 ;; esac' http-ok "$port" "$path"
fi
echo "http-ok.sh: no wget, curl or bash in this image" >&2
exit 1
