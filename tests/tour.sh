#!/usr/bin/env bash
# The README's "A tour with curl", as a script: the test suite runs it top
# to bottom against a fresh `debrief serve` (tests/api/tour.rs), and checks
# that the README shows exactly the lines below the marker. Any failing
# request stops it (`--fail-with-body`, `set -e`).
set -euo pipefail
# --- the tour ---
TOKEN=${TOKEN:-$(cat data/bootstrap-token)}
API=${API:-http://127.0.0.1:8080/api/v1}
auth=(-s --fail-with-body -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")

# Open an incident (the answer carries "ref": "INC-1" and an ETag). Without
# `started_at`, it started at the earliest milestone given.
curl "${auth[@]}" -X POST $API/incidents -d '{
  "title": "Checkout failing for EU customers",
  "severity": "sev1",
  "customer_impact": "About 30% of card payments fail",
  "affected_components": ["checkout", "payments-api"],
  "detected_at": "2026-11-20T09:58:00Z"
}'

# Who is in charge; assigning a new IC later hands the role off.
curl "${auth[@]}" -X POST $API/incidents/INC-1/roles -d '{"role": "incident_commander", "person": "Ana"}'

# Timeline: one event, or a batch; (source, external_id) makes re-sending safe.
curl "${auth[@]}" -X POST $API/incidents/INC-1/timeline -d '{
  "events": [
    {"occurred_at": "2026-11-20T10:02:00Z", "kind": "action", "body": "Rolled back deploy 4312",
     "author": "ben", "source": "chat", "external_id": "C042/1700470920.000200"}
  ]
}'
# → {"received": 1, "created": 1, "duplicates": 0}

# A sitrep, and the public status update posted with it in one transaction.
curl "${auth[@]}" -X POST $API/incidents/INC-1/sitreps -d '{
  "summary": "Card payments failing since deploy 4312; rollback in progress.",
  "open_issues": ["Are refunds affected?"],
  "current_actions": ["Rolling back web tier"],
  "next_update_due": "2026-11-20T10:30:00Z",
  "author": "Ana",
  "status_update": {"status": "identified", "message": "We found the cause and are rolling back."}
}'
# The next version, and what changed between the two.
curl "${auth[@]}" -X POST $API/incidents/INC-1/sitreps -d '{
  "summary": "Rollback done; error rate back to normal. Watching for an hour.",
  "current_actions": ["Monitoring checkout errors"],
  "author": "Ana"
}'
curl "${auth[@]}" $API/incidents/INC-1/sitreps/1/diff/2

# A temporary change to undo before closing.
cleanup=$(curl "${auth[@]}" -X POST $API/incidents/INC-1/cleanup-items \
  -d '{"kind": "silenced_alert", "description": "Silenced checkout-5xx alert", "owner": "ben"}')
cleanup_id=$(echo "$cleanup" | grep -o '"id":"[^"]*"' | head -n 1 | cut -d '"' -f 4)

# Change the incident; If-Match (the ETag of what you read) makes a stale
# write fail with 412 instead of overwriting someone else's change.
etag=$(curl "${auth[@]}" -o /dev/null -D - $API/incidents/INC-1 | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
curl "${auth[@]}" -X PATCH $API/incidents/INC-1 -H "If-Match: $etag" -d '{"status": "resolved"}'

# Closing is refused (409, listing them) while cleanup items are pending ...
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" -X PATCH $API/incidents/INC-1 -d '{"status": "closed"}')
test "$status" = 409
# ... and accepted once they are undone (or kept, with a reason).
curl "${auth[@]}" -X PATCH $API/incidents/INC-1/cleanup-items/$cleanup_id -d '{"status": "undone"}'
curl "${auth[@]}" -X PATCH $API/incidents/INC-1 -d '{"status": "closed"}'

# Remediation items: linked to one or more incidents; due after the
# priority's default period (p0 7 days, p1 30, p2 90, p3 none) unless given.
curl "${auth[@]}" -X POST $API/remediations -d '{
  "title": "Alert on replica lag above 30 s", "kind": "detect", "priority": "p1",
  "owner": "ana", "team": "storage", "incidents": ["INC-1"],
  "tracker_url": "https://tracker.example.com/OPS-412"
}'

# Lists are paged: {"items": [...], "next_cursor": "..."}; pass cursor= for the next page.
curl "${auth[@]}" "$API/incidents?status=closed&severity=sev1&since=2026-11-01&limit=20"
curl "${auth[@]}" "$API/incidents?customer_update_overdue=true"

# Contributing factors (the taxonomy: GET $API/contributing-factors), each
# with a note; the list replaces the post-mortem's. /stats counts them.
curl "${auth[@]}" -X PUT $API/incidents/INC-1/postmortem -d '{"contributing_factors": [
  {"factor": "change_deploy", "note": "Deploy 4312 shipped the slow query"},
  {"factor": "monitoring_gap", "note": "No alert on replica lag"}
]}'

# CSV for spreadsheets: the lists' filters, every row, streamed.
curl "${auth[@]}" -o incidents.csv "$API/incidents.csv?severity=sev1&since=2026-11-01"
curl "${auth[@]}" -o stats.csv "$API/stats.csv?from=2026-11-01&to=2026-11-30"
