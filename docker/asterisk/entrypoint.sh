#!/bin/sh
# Start Asterisk with the AMI secret taken from the Docker secret, never from the image.
#
# manager.conf #includes manager_gateway_secret.conf inside the [gateway] user; this
# writes that file ("secret = ...") from /run/secrets/gateway_ami, the same secret file
# the gateway reads (configs/gateway.yaml ami.secret.file).
set -eu

secret_source=${AMI_SECRET_FILE:-/run/secrets/gateway_ami}
secret_conf=/etc/asterisk/manager_gateway_secret.conf

umask 077
if [ -s "$secret_source" ]; then
    printf 'secret = %s\n' "$(tr -d '\r\n' < "$secret_source")" > "$secret_conf"
else
    # Fail closed: the user exists but has no secret, so no AMI login succeeds.
    echo "entrypoint: no AMI secret in $secret_source - the gateway cannot log in" >&2
    : > "$secret_conf"
fi
chown asterisk:asterisk "$secret_conf" 2>/dev/null || true

exec /usr/sbin/asterisk -f -U asterisk -G asterisk -vvv "$@"
