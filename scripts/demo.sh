#!/usr/bin/env bash
# make demo: the Gmail emulator and a small fleet in containers (two Postfix relays, one msmtp host,
# one application host), playbooks/site.yml run over them with the example inventory's settings
# (vault included); its last step finds every host's test mail in the mailbox over IMAP and prints the
# delivery table (roles/delivery_proof), shown again at the end.
# The containers come from the shared molecule playbooks (extensions/molecule/shared/): the same
# test network, emulator container, Gmail names and CA as every molecule scenario.
# Re-running reuses the fleet: the second run changes nothing and sends only the new test mails.
# On exit the containers are stopped; `make demo-clean` removes them and .demo/.
# GMAIL_RELAY_MODE=hub (make demo GMAIL_RELAY_MODE=hub): site.yml's gmail_relay_mode, so the first
# Postfix host becomes the hub holding the app password and the second a satellite relaying through
# it with a fleet-CA certificate (docs/fleet.md); msmtp and the application are the same in both.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD DEMO=$PWD/.demo VENV=$PWD/.venv
EXAMPLE=playbooks/inventory/example
SHARED=extensions/molecule/shared
# The fleet's connection: podman with pipelining (extensions/molecule/shared/plugins/connection).
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.build/collections ANSIBLE_PIPELINING=1
export ANSIBLE_CONNECTION_PLUGINS=$ROOT/$SHARED/plugins/connection
[ -t 1 ] || export ANSIBLE_NOCOLOR=1
PY=$VENV/bin/python
MODE=${GMAIL_RELAY_MODE:-direct}
case $MODE in direct | hub) ;; *) echo "demo: GMAIL_RELAY_MODE must be direct or hub, not '$MODE'" >&2; exit 2 ;; esac
containers() { podman ps -aq --filter label=mailops.scenario=demo; }

if [ "${1:-}" = --clean ]; then
  containers | xargs -r podman rm --force --time 0 >/dev/null
  rm -rf "$DEMO"
  echo "demo: containers and .demo/ removed"
  exit 0
fi

t0=$(date +%s)
# shellcheck disable=SC2317  # called by the EXIT trap
stop() { containers | xargs -r podman stop --time 2 >/dev/null 2>&1 || true; }
trap stop EXIT

# shellcheck disable=SC2046  # one word per image
scripts/images.sh $("$PY" scripts/demo_fleet.py images)
# Fresh records every run; the quota and spool state belong to the demo, not to ~/.ansible.
rm -rf "$DEMO/inventory" "$DEMO/spool" "$DEMO/delivery.txt"
mkdir -p "$DEMO/inventory" "$DEMO/quota"
chmod 0700 "$DEMO"
"$PY" scripts/demo_fleet.py setup "$DEMO"
# The demo inventory: its hosts, with the example inventory's group_vars (and vault) as they are.
ln -sfn "$ROOT/$EXAMPLE/group_vars" "$DEMO/inventory/group_vars"
VAULT=(--vault-password-file "$EXAMPLE/vault-password.txt")
INFRA=(-i "$DEMO/inventory/hosts.yml" -e "@$DEMO/infra.yml" "${VAULT[@]}")

echo "== Starting the Gmail emulator and the fleet (containers) [$(( $(date +%s) - t0 )) s]"
"$VENV/bin/ansible-playbook" "${INFRA[@]}" "$SHARED/create.yml" >"$DEMO/create.log" \
  || { cat "$DEMO/create.log"; exit 1; }
"$VENV/bin/ansible-playbook" "${INFRA[@]}" "$SHARED/prepare.yml" >"$DEMO/prepare.log" \
  || { cat "$DEMO/prepare.log"; exit 1; }
EMULATOR_IP=$("$PY" scripts/demo_fleet.py controller "$DEMO")
echo "   emulator at $EMULATOR_IP (smtp.gmail.com inside the fleet), records in .demo/emulator/records"

# The deploy_report callback mails a report only when a host fails (the digest covers the rest).
"$VENV/bin/ansible-vault" view --vault-password-file "$EXAMPLE/vault-password.txt" "$EXAMPLE/group_vars/all/vault.yml" \
  | "$PY" -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["vault_gmail_app_password"])' \
  | (umask 077 && cat >"$DEMO/report-password")
export ANSIBLE_CALLBACKS_ENABLED=mailops.gmail.deploy_report
export MAILOPS_GMAIL_REPORT_TO=ops.alerts@gmail.com MAILOPS_GMAIL_REPORT_USERNAME=ops.alerts@gmail.com
export MAILOPS_GMAIL_REPORT_PASSWORD_FILE=$DEMO/report-password MAILOPS_GMAIL_REPORT_WHEN=failure
export MAILOPS_GMAIL_REPORT_HOST=$EMULATOR_IP MAILOPS_GMAIL_REPORT_CA_FILE=$DEMO/emulator/ca/ca.pem
export MAILOPS_GMAIL_REPORT_QUOTA_DIR=$DEMO/quota MAILOPS_GMAIL_REPORT_SPOOL_DIR=$DEMO/spool

# Hub mode: the fleet CA lives beside the inventory, which every run rewrites, so it goes to .demo/.
MODE_ARGS=()
[ "$MODE" = direct ] || MODE_ARGS=(-e "gmail_relay_mode=$MODE" -e "postfix_relay_fleet_ca_dir=$DEMO/fleet_ca")
echo "== [$(( $(date +%s) - t0 )) s] ansible-playbook -i <demo fleet> playbooks/site.yml --vault-password-file" \
  "$EXAMPLE/vault-password.txt ${MODE_ARGS[*]:0:2}"
# DEMO_PLAYBOOK_ARGS: extra ansible-playbook options, split on spaces (e.g. "-v --forks 10").
# shellcheck disable=SC2086
"$VENV/bin/ansible-playbook" -i "$DEMO/inventory/hosts.yml" playbooks/site.yml \
  "${VAULT[@]}" -e "@$DEMO/controller.yml" -e "delivery_proof_report=$DEMO/delivery.txt" "${MODE_ARGS[@]}" \
  ${DEMO_PLAYBOOK_ARGS:-} \
  | tee "$DEMO/site.log"
rc=${PIPESTATUS[0]}

echo
echo "== Delivery table: every host's test mail, found in the account's mailbox over IMAP"
if [ -s "$DEMO/delivery.txt" ]; then sed 's/^/   /' "$DEMO/delivery.txt"; else echo "   (none: site.yml stopped before its proof)"; fi
if [ "$MODE" = hub ]; then
  echo
  echo "== Files holding the app password (text files under /etc and /var/spool/postfix)"
  for host in demo-postfix1 demo-postfix2; do
    found=$(podman exec -i "$host" grep -rlsIF -f /dev/stdin /etc /var/spool/postfix <"$DEMO/report-password" || true)
    echo "   $host: ${found:-none}"
  done
  [ -z "$found" ] || { echo "   the satellite demo-postfix2 must hold no Gmail secret"; rc=1; }
fi
echo
echo "== Changed tasks per host (a re-run changes nothing: only the digest task, run once for all, counts)"
awk '/^PLAY RECAP/ {recap = 1; next} recap && /ok=/ {printf "   %-14s %s %s\n", $1, $4, $6}' "$DEMO/site.log"
echo
echo "make demo ($MODE mode) took $(( $(date +%s) - t0 )) s (site.yml exit status $rc). Run it again: the fleet is reused," \
  "nothing changes and only the new test mails are sent. make demo-clean removes everything."
exit "$rc"
