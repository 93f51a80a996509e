#!/usr/bin/env bash
# The command of docker-compose.yml's `kafka` service (apache/kafka image, KRaft, one node):
# SASL_SSL (SCRAM-SHA-512) for clients, mutual TLS on the controller listener,
# StandardAuthorizer, every SCRAM user created when the storage is formatted.
#
# The image's own start (/etc/kafka/docker/run) formats the storage without SCRAM users
# (KafkaDockerWrapper runs `kafka-storage.sh format` with no --add-scram), and in KRaft a
# SCRAM user that the first start does not know cannot authenticate the broker to itself.
# So this script does the same two steps itself:
#   1. server.properties from the KAFKA_* variables, by the image's convention (KAFKA_A_B ->
#      a.b, `__` -> `_`, `___` -> `-`), plus the secret lines read from /run/secrets (the
#      keystore password, the admin's JAAS line): no password in the compose file or in
#      `docker inspect`; the file is 0600 in the container's /tmp;
#   2. `kafka-storage.sh format --add-scram ...` once (a formatted volume is left as is), then
#      exec the broker.
# A principal added later (a new service) needs its SCRAM user added by the admin:
#   kafka-configs.sh --bootstrap-server kafka:9092 --command-config <admin properties> \
#     --alter --entity-type users --entity-name NAME --add-config 'SCRAM-SHA-512=[password=...]'
set -euo pipefail
umask 077

secrets="${ALPR_SECRETS_DIR:-/run/secrets}"
work="${ALPR_KAFKA_WORK_DIR:-/tmp/alpr-kafka}"
bin="${KAFKA_HOME_BIN:-/opt/kafka/bin}"
conf="$work/server.properties"
users=(admin ingest recognizer occupancy revenue audit)
: "${CLUSTER_ID:?set CLUSTER_ID (kafka-storage.sh random-uuid)}"
mkdir -p "$work"

# Variables the image reads itself, not broker properties (the image's exclusion list).
skip='^KAFKA_(HOME_BIN|VERSION|HEAP_OPTS|LOG4J_OPTS|OPTS|JMX_OPTS|JVM_PERFORMANCE_OPTS|GC_LOG_OPTS|LOG4J_ROOT_LOGLEVEL|LOG4J_LOGGERS|TOOLS_LOG4J_LOGLEVEL|JMX_HOSTNAME|JMX_PORT)='
env | grep -E '^KAFKA_[A-Z0-9_]+=' | grep -vE "$skip" | while IFS='=' read -r key value; do
  name="$(printf '%s' "${key#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/\x01/g' -e 's/_/./g' -e 's/\x01/_/g')"
  printf '%s=%s\n' "$name" "$value"
done >"$conf"

store="$(tr -d '\r\n' <"$secrets/kafka_keystore_password")"
admin="$(tr -d '\r\n' <"$secrets/kafka_admin")"
cat >>"$conf" <<EOF
ssl.keystore.location=$secrets/kafka_broker_keystore
ssl.keystore.password=$store
ssl.key.password=$store
ssl.truststore.location=$secrets/kafka_truststore
ssl.truststore.password=$store
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
EOF

# The healthcheck's client: the admin over the SASL_SSL listener (localhost is in the SAN).
cat >"$work/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.truststore.type=PEM
ssl.truststore.location=$secrets/kafka_ca
EOF

scram=()
for user in "${users[@]}"; do
  scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(tr -d '\r\n' <"$secrets/kafka_$user")]")
done
if ! result="$("$bin/kafka-storage.sh" format --ignore-formatted --cluster-id "$CLUSTER_ID" --config "$conf" "${scram[@]}" 2>&1)"; then
  grep -qi "already formatted" <<<"$result" || { echo "$result" >&2; exit 1; }
fi
unset scram admin store result
exec "$bin/kafka-server-start.sh" "$conf"
