#!/usr/bin/env bash
# Generates one video through the sora-pipeline HTTP API: submits the prompt, watches the job's
# progress and saves the MP4. Needs bash, curl and jq.
#
#   bash docs/examples/generate-video.sh "A cat playing piano in a jazz club" cat.mp4
#
# The API: SORA_API_URL with SORA_API_TOKEN (sent as "Authorization: Bearer <token>") or
# SORA_AUTH_HEADER (a whole header line, "Name: value"); without SORA_API_URL, the apiUrl and
# headers of .local/stack.json, which `npm start` writes.
# Optional: SORA_MODEL, SORA_SIZE, SORA_SECONDS (the request's fields), SORA_POLL_SECONDS
# (default 3), SORA_TIMEOUT_SECONDS (default 1800).
# Exit status: 0 when the MP4 is saved, 1 when anything fails (the reason is printed), 2 for
# wrong usage.
set -euo pipefail

die() {
  echo "generate-video: $*" >&2
  exit 1
}

if [ $# -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
  echo 'Usage: generate-video.sh "<prompt>" <output.mp4>' >&2
  exit 2
fi
prompt=$1
output=$2
poll_seconds=${SORA_POLL_SECONDS:-3}
timeout_seconds=${SORA_TIMEOUT_SECONDS:-1800}
command -v curl >/dev/null || die "curl is required"
command -v jq >/dev/null || die "jq is required (apt-get install jq, brew install jq)"

# --- Where the API is and how to authenticate ---------------------------------------------------
auth=()
if [ -n "${SORA_API_URL:-}" ]; then
  api_url=$SORA_API_URL
  if [ -n "${SORA_AUTH_HEADER:-}" ]; then
    auth=(-H "$SORA_AUTH_HEADER")
  elif [ -n "${SORA_API_TOKEN:-}" ]; then
    auth=(-H "Authorization: Bearer $SORA_API_TOKEN")
  fi
else
  stack_file=.local/stack.json
  [ -f "$stack_file" ] || stack_file="$(dirname "$0")/../../.local/stack.json"
  [ -f "$stack_file" ] ||
    die "no API configured: set SORA_API_URL and SORA_API_TOKEN, or run 'npm start' (it writes .local/stack.json)"
  api_url=$(jq -er '.apiUrl' "$stack_file") || die "$stack_file has no apiUrl"
  while IFS= read -r header; do
    auth+=(-H "$header")
  done < <(jq -r '(.headers // {}) | to_entries[] | "\(.key): \(.value)"' "$stack_file")
fi
api_url=${api_url%/}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# call METHOD PATH [JSON body] [extra curl args...]: sets $status; the body is in $work/body and
# the response headers in $work/headers. Redirects are not followed.
call() {
  local method=$1 path=$2 data=${3:-}
  shift $(($# < 3 ? $# : 3))
  local args=(-sS -X "$method" -o "$work/body" -D "$work/headers" -w '%{http_code}' ${auth[@]+"${auth[@]}"} "$@")
  if [ -n "$data" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$data"); fi
  status=$(curl "${args[@]}" "$api_url$path") || die "$method $path: cannot reach $api_url"
}

# The reason of an error answer: our {"error":{code,message,field}} or API Gateway's {"message"}.
reason() {
  jq -r 'if .error then "\(.error.code): \(.error.message)" else (.message // tostring) end' \
    "$work/body" 2>/dev/null || head -c 500 "$work/body"
}

# "HTTP <status>: <reason>", with a hint for the two authentication answers.
failure() {
  local hint=""
  case $status in
    401) hint=" (no credentials sent: set SORA_API_TOKEN or SORA_AUTH_HEADER)" ;;
    403) hint=" (the API does not accept this token)" ;;
  esac
  echo "HTTP $status: $(reason)$hint"
}

header() {
  grep -i "^$1:" "$work/headers" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

# --- 1. Submit -----------------------------------------------------------------------------------
request=$(jq -nc --arg prompt "$prompt" --arg model "${SORA_MODEL:-}" --arg size "${SORA_SIZE:-}" \
  --arg seconds "${SORA_SECONDS:-}" '{prompt: $prompt}
    + (if $model != "" then {model: $model} else {} end)
    + (if $size != "" then {size: $size} else {} end)
    + (if $seconds != "" then {seconds: $seconds} else {} end)')
# Retrying with the same Idempotency-Key can never start a second (paid) generation.
idempotency_key="generate-video-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
for attempt in 1 2 3; do
  call POST /videos "$request" -H "Idempotency-Key: $idempotency_key"
  case $status in
    200 | 202) break ;;
    429 | 503)
      [ "$attempt" -lt 3 ] || die "POST /videos: $(failure)"
      wait_seconds=$(header Retry-After)
      sleep "${wait_seconds:-5}"
      ;;
    *) die "POST /videos: $(failure)" ;;
  esac
done
id=$(jq -r '.id' "$work/body")
echo "Submitted $id ($(jq -r '"\(.model), \(.size), \(.seconds) s, about $\(.estimatedCostUsd)"' "$work/body"))"

# --- 2. Watch progress until the job is COMPLETED or FAILED --------------------------------------
deadline=$((SECONDS + timeout_seconds))
last=""
while :; do
  call GET "/videos/$id"
  [ "$status" = 200 ] || die "GET /videos/$id: $(failure)"
  job_status=$(jq -r '.status' "$work/body")
  line="$job_status $(jq -r '.progress' "$work/body")%"
  if [ "$line" != "$last" ]; then
    echo "  $line"
    last=$line
  fi
  case $job_status in
    COMPLETED) break ;;
    FAILED) die "video $id FAILED: $(jq -r '"\(.error.code): \(.error.message)"' "$work/body")" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || die "video $id is still $job_status after ${timeout_seconds} s"
  sleep "$poll_seconds"
done
cp "$work/body" "$work/job.json"

# --- 3. Download: the API redirects to a short-lived presigned S3 link ---------------------------
call GET "/videos/$id/content"
[ "$status" = 302 ] || die "GET /videos/$id/content: $(failure)"
location=$(header Location)
# The link carries its own signature: no Authorization header goes to S3.
curl -sS --fail -o "$work/video.mp4" "$location" || die "downloading the MP4 of $id failed"

# Check the file against what the pipeline recorded, then move it into place.
expected_bytes=$(jq -r '.video.bytes' "$work/job.json")
expected_sha256=$(jq -r '.video.sha256' "$work/job.json")
bytes=$(wc -c <"$work/video.mp4" | tr -d ' ')
if command -v sha256sum >/dev/null; then
  sha256=$(sha256sum "$work/video.mp4" | cut -d' ' -f1)
else
  sha256=$(shasum -a 256 "$work/video.mp4" | cut -d' ' -f1)
fi
[ "$bytes" = "$expected_bytes" ] || die "downloaded $bytes bytes, expected $expected_bytes"
[ "$sha256" = "$expected_sha256" ] || die "downloaded file's sha256 does not match the job's"
mv "$work/video.mp4" "$output"
echo "Saved $output ($bytes bytes)"
