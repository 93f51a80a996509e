#!/usr/bin/env bash
# One-time step before `docker compose -f infra/docker-compose.yml up`: the compose stack's
# certificates and passwords, as files that docker-compose.yml hands to each container as a
# Docker secret (/run/secrets/<name>). Nothing here is a credential of a real deployment.
#
#   infra/make-dev-certs.sh [DIR]        # DIR defaults to infra/secrets (git-ignored)
#
# Made once; a second run keeps every file that exists (delete DIR to start over, then
# delete the kafka-data and clickhouse-data volumes too: the SCRAM users live in Kafka's
# formatted storage, the ClickHouse admin in its data).
#
#   DIR/kafka/ca.p12            the CA and its key (keep it here; nothing mounts it)
#   DIR/kafka/ca.pem            the CA certificate every client trusts (ALPR_KAFKA_CA_FILE)
#   DIR/kafka/broker.p12        the broker's key and certificate (CN=kafka-broker, SAN kafka,
#                               localhost; serverAuth and clientAuth: it is also the
#                               certificate of its own controller connection, mutual TLS)
#   DIR/kafka/truststore.p12    the CA, for the broker (controller listener, mutual TLS)
#   DIR/kafka/keystore.password the PKCS12 stores' password
#   DIR/kafka/<user>.password   one SCRAM password per principal: admin (the super user of
#                               `alpr topics apply`) and ingest, recognizer, occupancy,
#                               revenue, audit (alpr.kafka.broker.SERVICE_USERS)
#   DIR/clickhouse/admin        the ClickHouse administrator (the server's CLICKHOUSE_USER)
#   DIR/clickhouse/<user>       one password per login of `alpr db grants` (alpr_migrate,
#                               alpr_<service>, alpr_<service>_api), named after the user as
#                               `alpr db grants --passwords DIR` reads them
#   DIR/governance-db/password  PostgreSQL's (the governance-db container and the audit
#                               service's ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE)
#
# The certificates are made with the JDK's keytool, the same steps as the local secure broker
# (`alpr kafka start --secure`, alpr/kafka/broker.py) but for the host name `kafka`. Without a
# local keytool the script runs itself in the apache/kafka image, which has one.
#
# Modes: folders 0700, files 0644. Compose's file secrets are bind mounts that keep the host
# file's mode, and the containers run as other users (Kafka uid 1000, the ALPR image 65534,
# ClickHouse 101): the 0700 folder is what keeps other host users out.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/secrets}"
KAFKA_IMAGE="${KAFKA_IMAGE:-apache/kafka:4.1.1}"
KAFKA_USERS=(admin ingest recognizer occupancy revenue audit)
CLICKHOUSE_USERS=(admin alpr_migrate alpr_audit alpr_audit_api alpr_occupancy alpr_occupancy_api alpr_revenue alpr_revenue_api)
DAYS=825

if ! command -v keytool >/dev/null 2>&1; then
  if [ "${ALPR_IN_CONTAINER:-}" = 1 ]; then
    echo "make-dev-certs.sh: no keytool in $KAFKA_IMAGE either" >&2
    exit 1
  fi
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  echo "make-dev-certs.sh: no local keytool; running in $KAFKA_IMAGE" >&2
  exec docker run --rm --user "$(id -u):$(id -g)" -e ALPR_IN_CONTAINER=1 \
    -v "$here/make-dev-certs.sh:/make-dev-certs.sh:ro" -v "$out:/out" \
    --entrypoint bash "$KAFKA_IMAGE" /make-dev-certs.sh /out
fi

umask 022
mkdir -p "$out/kafka" "$out/clickhouse" "$out/governance-db"
chmod 700 "$out" "$out/kafka" "$out/clickhouse" "$out/governance-db"

password() { # URL-safe, no quote, comma or bracket (the JAAS line and --add-scram take it as is)
  local file="$1"
  [ -s "$file" ] && return 0
  head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$file"
  echo >>"$file"
  chmod 644 "$file"
}

for user in "${KAFKA_USERS[@]}" keystore; do password "$out/kafka/$user.password"; done
for user in "${CLICKHOUSE_USERS[@]}"; do password "$out/clickhouse/$user"; done
password "$out/governance-db/password"

tls="$out/kafka"
if [ ! -s "$tls/broker.p12" ] || [ ! -s "$tls/truststore.p12" ] || [ ! -s "$tls/ca.pem" ]; then
  rm -f "$tls/ca.p12" "$tls/broker.p12" "$tls/truststore.p12" "$tls/ca.pem"
  pw=(-storepass:file "$tls/keystore.password" -storetype PKCS12)
  key=(-keyalg EC -groupname secp256r1 -validity "$DAYS")
  keytool -genkeypair -alias ca -dname CN=alpr-compose-kafka-ca -ext bc:c "${key[@]}" -keystore "$tls/ca.p12" "${pw[@]}"
  keytool -exportcert -rfc -alias ca -keystore "$tls/ca.p12" "${pw[@]}" >"$tls/ca.pem"
  keytool -genkeypair -alias broker -dname CN=kafka-broker "${key[@]}" -keystore "$tls/broker.p12" "${pw[@]}"
  keytool -certreq -alias broker -keystore "$tls/broker.p12" "${pw[@]}" \
    | keytool -gencert -rfc -alias ca -keystore "$tls/ca.p12" "${pw[@]}" -validity "$DAYS" \
      -ext SAN=dns:kafka,dns:localhost -ext KU=digitalSignature,keyEncipherment \
      -ext EKU=serverAuth,clientAuth >"$tls/broker.pem"
  keytool -importcert -noprompt -alias ca -file "$tls/ca.pem" -keystore "$tls/broker.p12" "${pw[@]}"
  keytool -importcert -alias broker -file "$tls/broker.pem" -keystore "$tls/broker.p12" "${pw[@]}"
  keytool -importcert -noprompt -alias ca -file "$tls/ca.pem" -keystore "$tls/truststore.p12" "${pw[@]}"
  rm -f "$tls/broker.pem"
  chmod 644 "$tls/broker.p12" "$tls/truststore.p12" "$tls/ca.pem"
  chmod 600 "$tls/ca.p12"
fi
echo "make-dev-certs.sh: certificates and passwords in $out" >&2
