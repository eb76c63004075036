#!/usr/bin/env bash
# Regenerates the checked-in seed corpora of corpus/ from readable sources:
# text-format protos (encoded with protoc), the sample exports of
# tests/data/importers/, the examples/ of vlactl, and page tokens signed the
# way PageTokenCodec signs them (with the fuzzer's fixed secret).
# Run from anywhere; review and commit the result.
set -euo pipefail
cd "$(dirname "$0")"
root=../..
c=corpus

# validation: a selector byte (0 Team, 1 ValueStream, 2 Kvi, 3 Vla,
# 4 Objective: the order of vmdb::AllKinds()) and a Create<Kind>Request.
encode() {  # encode SELECTOR MESSAGE OUT < text
  { printf "\\x0$1"; protoc --proto_path=$root/protos --encode="vla.v1.$2" \
      vla/v1/vmdb.proto; } >"$c/validation/$3"
}
encode 0 CreateTeamRequest team <<'P'
team_id: "service-desk" team { display_name: "Service Desk" kind: TEAM_KIND_PROVIDER }
P
encode 1 CreateValueStreamRequest value_stream <<'P'
value_stream_id: "incident"
value_stream { display_name: "Incident to back-to-work" value_owner: "owner@example.com"
  consumer: "teams/business" providers: "teams/service-desk"
  stages { name: "triage" team: "teams/service-desk" } services: "svc-email" }
P
encode 2 CreateKviRequest kvi <<'P'
kvi_id: "lead-time"
kvi { display_name: "p90 lead time" value_stream: "valueStreams/incident"
  source: SOURCE_WORK_ITEMS field: WORK_ITEM_FIELD_LEAD_TIME
  aggregation: AGGREGATION_PERCENTILE percentile: 90 window { rolling { seconds: 2592000 } }
  unit: "s" direction: DIRECTION_LOWER_IS_BETTER dimension: DIMENSION_FLOW }
P
encode 3 CreateVlaRequest vla <<'P'
vla_id: "incident"
vla { display_name: "Incident VLA" value_stream: "valueStreams/incident"
  value_owner: "owner@example.com" consumer: "teams/business" providers: "teams/service-desk"
  clauses { kvi: "kvis/lead-time" target: 432000 warning: 604800 }
  clauses { kvi: "kvis/throughput" target: 10 warning: 8 }
  state: VLA_STATE_ACTIVE }
P
encode 4 CreateObjectiveRequest objective <<'P'
objective_id: "faster"
objective { display_name: "Back to work faster" owners: "teams/service-desk"
  owners: "teams/business" lead: "teams/service-desk"
  period_start { seconds: 1767225600 } period_end { seconds: 1775001600 }
  kind: OBJECTIVE_KIND_COMMITTED
  key_results { id: "lead-time" kvi: "kvis/lead-time" start_value: 864000 target_value: 432000 }
  key_results { id: "happiness" start_value: 62 target_value: 80 } }
P

# ingest: an IngestRequest (the fuzzer's engine knows valueStreams/incident,
# teams/business, teams/service-desk, kvis/lead-time, vlas/incident; its
# clock reads 2026-03-01T00:00:00Z = 1772323200).
ingest() {  # ingest OUT < text
  protoc --proto_path=$root/protos --encode=vla.v1.IngestRequest \
    vla/v1/evaluation.proto >"$c/ingest/$1"
}
ingest lifecycle <<'P'
work_item_events { event_id: "e1" item_id: "INC1" item_type: ITEM_TYPE_INCIDENT value_stream: "valueStreams/incident"
  time { seconds: 1772236800 } kind: EVENT_KIND_CREATED team: "teams/service-desk" }
work_item_events { event_id: "e2" item_id: "INC1" value_stream: "valueStreams/incident"
  time { seconds: 1772240400 } kind: EVENT_KIND_ACTIVE team: "teams/service-desk" }
work_item_events { event_id: "e3" item_id: "INC1" value_stream: "valueStreams/incident"
  time { seconds: 1772244000 } kind: EVENT_KIND_WAITING team: "teams/service-desk" reason: "customer" }
work_item_events { event_id: "e4" item_id: "INC1" value_stream: "valueStreams/incident"
  time { seconds: 1772280000 } kind: EVENT_KIND_RESOLVED team: "teams/service-desk" sla_met: true }
work_item_events { event_id: "e5" item_id: "INC2" value_stream: "valueStreams/incident"
  time { seconds: 1772250000 } kind: EVENT_KIND_CREATED team: "teams/service-desk" labels { key: "p" value: "1" } }
work_item_events { event_id: "e6" item_id: "INC2" value_stream: "valueStreams/incident"
  time { seconds: 1772290000 } kind: EVENT_KIND_CANCELLED team: "teams/service-desk" }
P
ingest observations <<'P'
observations { event_id: "o1" signal: "availability" time { seconds: 1772300000 } value: 99.5
  value_stream: "valueStreams/incident" service: "svc-email" labels { key: "region" value: "eu" } }
observations { event_id: "o2" signal: "availability" time { seconds: 1772310000 } value: 98
  value_stream: "valueStreams/incident" }
work_item_events { event_id: "bad" item_id: "INC3" value_stream: "valueStreams/other"
  time { seconds: 1872323200 } kind: EVENT_KIND_RESOLVED }
P

# filter: a selector byte (as above) and the filter text.
filter() { printf "\\x0$1%s" "$2" >"$c/filter/$3"; }
filter 0 'kind = PROVIDER' team_kind
filter 1 'team = "teams/service-desk"' value_stream_team
filter 2 'value_stream = "valueStreams/incident"' kvi_value_stream
filter 3 'value_stream = "valueStreams/incident" AND team != "teams/x" AND state = VLA_STATE_ACTIVE' vla_and
filter 4 'team="teams/business"' objective_team

# page_token: scope, newline, then a token (or cursor).
python3 - "$c/page_token" <<'PY'
import base64, hashlib, hmac, sys
out = sys.argv[1]
secret = b"k" * 32  # the fuzzer's secret
def token(scope, cursor):
    payload = b"\x01" + hashlib.sha256(scope).digest()[:8] + cursor
    mac = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=")
seeds = {
    "valid": (b"ListVlas state = ACTIVE", token(b"ListVlas state = ACTIVE", b"vlas/incident")),
    "valid_empty_scope": (b"", token(b"", b"kvis/a")),
    "other_scope": (b"ListKvis", token(b"ListVlas", b"kvis/a")),
    "garbage": (b"ListTeams", b"not-a-token!"),
}
for name, (scope, tok) in seeds.items():
    with open(f"{out}/{name}", "wb") as f:
        f.write(scope.replace(b"\n", b" ") + b"\n" + tok)
PY

# csv: the ServiceNow sample exports and a few edge cases.
cp $root/tests/data/importers/servicenow_incidents.csv $root/tests/data/importers/servicenow_audit.csv $c/csv/
printf '\xef\xbb\xbfa,"b ""quoted"", with comma",c\r\n"multi\nline",2,3\r\r\nx,"unclosed\n' >$c/csv/edge_cases

# importers: a selector byte (0 ServiceNow, 1 ServiceNow + audit after a NUL
# byte, 2 Jira) and the export(s).
d=$root/tests/data/importers
{ printf '\x00'; cat $d/servicenow_incidents.csv; } >$c/importers/servicenow_csv
{ printf '\x00'; cat $d/servicenow_incidents.json; } >$c/importers/servicenow_json
{ printf '\x01'; cat $d/servicenow_incidents.csv; printf '\x00'; cat $d/servicenow_audit.csv; } >$c/importers/servicenow_audit
{ printf '\x02'; cat $d/jira_issues.json; } >$c/importers/jira

# apply: vlactl's examples and a JSON list.
cp $root/examples/*.yaml $c/apply/
cat >$c/apply/list.json <<'J'
[{"kind": "Team", "id": "a", "display_name": "A", "team_kind": "PROVIDER"},
 {"kind": "Kvi", "id": "k", "value_stream": "valueStreams/v", "source": "WORK_ITEMS",
  "field": "LEAD_TIME", "aggregation": "PERCENTILE", "percentile": 90,
  "window": {"rolling": "30d"}, "direction": "LOWER_IS_BETTER"}]
J
