#!/usr/bin/env bash
# Mints a short-lived user token of the demo's identity provider, for the
# private consumer foretagsappen of the running demo (scripts/demo.sh).
#
# Usage: scripts/demo_token.sh USER [LIFETIME_SECONDS]
#   USER   a demo user's id in .run/demo/ui-users.json (anna, bo, cecilia,
#          david) or a 12-digit personnummer
#   LIFETIME_SECONDS  default 300; ma-api accepts at most token.max-lifetime
#          (10 min by default)
#
# Prints the token (a JWS signed with EdDSA, Ed25519) on standard output:
#
#   TOKEN=$(scripts/demo_token.sh david)
#   curl ... -H "Authorization: Bearer $TOKEN" -H "X-API-Key: $(cat .run/demo/secrets/foretagsappen.api-key)"
#
# The signing key is .run/demo/secrets/idp-ed25519.pem, registered by the
# demo as kid demo-idp-ed25519 with issuer urn:mina-arenden:demo-idp.  The
# token's audience (aud) is foretagsappen, or MA_DEMO_TOKEN_AUDIENCE.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${MA_DEMO_STATE_DIR:-$(pwd)/.run/demo}
KID=demo-idp-ed25519
ISSUER=urn:mina-arenden:demo-idp
# The audience: ma-api accepts the token only from this consumer.
AUDIENCE=${MA_DEMO_TOKEN_AUDIENCE:-foretagsappen}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
        echo "usage: scripts/demo_token.sh USER [LIFETIME_SECONDS]" >&2
        exit 2
fi
user=$1
lifetime=${2:-300}
if ! [[ $lifetime =~ ^[0-9]+$ ]] || [ "$lifetime" -lt 1 ]; then
        echo "demo_token: invalid lifetime \"$lifetime\": expected a number of seconds" >&2
        exit 2
fi
key="$STATE/secrets/idp-ed25519.pem"
if [ ! -r "$key" ]; then
        echo "demo_token: signing key $key not found; run make demo first" >&2
        exit 1
fi

if [[ $user =~ ^[0-9]{12}$ ]]; then
        subject=$user
else
        subject=$(python3 - "$STATE/ui-users.json" "$user" <<'EOF'
import json, sys
for entry in json.load(open(sys.argv[1])):
    if entry["id"] == sys.argv[2]:
        print(entry["identitet"])
        break
EOF
)
        if [ -z "$subject" ]; then
                echo "demo_token: no demo user \"$user\" in $STATE/ui-users.json; give a user id or a 12-digit personnummer" >&2
                exit 2
        fi
fi

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

now=$(date +%s)
header=$(printf '{"alg":"EdDSA","typ":"JWT","kid":"%s"}' "$KID" | b64url)
payload=$(printf '{"iss":"%s","sub":"%s","aud":"%s","iat":%d,"exp":%d}' \
        "$ISSUER" "$subject" "$AUDIENCE" "$now" "$((now + lifetime))" | b64url)
signing_input="$header.$payload"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s' "$signing_input" >"$work/input"
openssl pkeyutl -sign -inkey "$key" -rawin -in "$work/input" -out "$work/signature"
printf '%s.%s\n' "$signing_input" "$(b64url <"$work/signature")"
