#!/usr/bin/env bash
# make demo: the Gmail emulator on 127.0.0.1, playbooks/site.yml run through it with the example
# inventory's settings (vault included), then a table of what the emulator received.
# Idempotent and self-cleaning: the emulator is stopped on exit; `make demo-clean` removes .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD DEMO=$PWD/.demo VENV=$PWD/.venv
EXAMPLE=playbooks/inventory/example
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections
[ -t 1 ] || export ANSIBLE_NOCOLOR=1

if [ "${1:-}" = --clean ]; then
  rm -rf "$DEMO"
  exit 0
fi

EMULATOR_PID=
cleanup() { [ -z "$EMULATOR_PID" ] || kill "$EMULATOR_PID" 2>/dev/null || true; }
trap cleanup EXIT

t0=$(date +%s)
# Fresh records every run (the CA is kept); the quota state belongs to the demo, not to ~/.ansible.
rm -rf "$DEMO/records" "$DEMO/inventory" "$DEMO/spool"
mkdir -p "$DEMO/records" "$DEMO/ca" "$DEMO/quota" "$DEMO/inventory"
chmod 0700 "$DEMO"

echo "== Starting the Gmail emulator on 127.0.0.1 (records in .demo/records)"
(cd extensions && exec "$VENV/bin/python" -m gmail_emulator --records "$DEMO/records" --ca-dir "$DEMO/ca" \
  --listen 127.0.0.1) >"$DEMO/emulator.log" 2>&1 &
EMULATOR_PID=$!
for _ in $(seq 100); do
  [ -s "$DEMO/records/emulator.json" ] && break
  kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$DEMO/emulator.log" >&2; exit 1; }
  sleep 0.1
done
SMTP_PORT=$("$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["smtp_starttls_port"])' \
  "$DEMO/records/emulator.json")

# The demo inventory: the controller only, with the example inventory's group_vars (and vault).
# The controller reaches the emulator at 127.0.0.1 and trusts the demo CA.
ln -sfn "$ROOT/$EXAMPLE/group_vars" "$DEMO/inventory/group_vars"
cat >"$DEMO/inventory/hosts.yml" <<YAML
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
YAML
cat >"$DEMO/controller.yml" <<YAML
gmail_controller_smtp_host: 127.0.0.1
gmail_controller_smtp_port: $SMTP_PORT
gmail_controller_smtp_security: starttls
gmail_controller_ca_file: $DEMO/ca/ca.pem
notify_quota_dir: $DEMO/quota
YAML

# The deploy_report callback mails a report only when a host fails (the digest covers the rest).
"$VENV/bin/ansible-vault" view --vault-password-file "$EXAMPLE/vault-password.txt" "$EXAMPLE/group_vars/all/vault.yml" \
  | "$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["vault_gmail_app_password"])' \
  | (umask 077 && cat >"$DEMO/report-password")
export ANSIBLE_CALLBACKS_ENABLED=mailops.gmail.deploy_report
export MAILOPS_GMAIL_REPORT_TO=ops.alerts@gmail.com MAILOPS_GMAIL_REPORT_USERNAME=ops.alerts@gmail.com
export MAILOPS_GMAIL_REPORT_PASSWORD_FILE=$DEMO/report-password MAILOPS_GMAIL_REPORT_WHEN=failure
export MAILOPS_GMAIL_REPORT_HOST=127.0.0.1 MAILOPS_GMAIL_REPORT_PORT=$SMTP_PORT MAILOPS_GMAIL_REPORT_SECURITY=starttls
export MAILOPS_GMAIL_REPORT_CA_FILE=$DEMO/ca/ca.pem MAILOPS_GMAIL_REPORT_QUOTA_DIR=$DEMO/quota
export MAILOPS_GMAIL_REPORT_SPOOL_DIR=$DEMO/spool

echo "== ansible-playbook playbooks/site.yml"
"$VENV/bin/ansible-playbook" -i "$DEMO/inventory/hosts.yml" playbooks/site.yml \
  --vault-password-file "$EXAMPLE/vault-password.txt" -e "@$DEMO/controller.yml"

echo
echo "== What the Gmail emulator received"
"$VENV/bin/python" scripts/demo_table.py "$DEMO/records"
echo
echo "make demo took $(( $(date +%s) - t0 )) s"
