#!/usr/bin/env bash
# Issue 11 probes against one checkout: scripts/probe_issue11.sh REPO_DIR (runs REPO_DIR/.venv/bin/bias-judge;
# run it on a checkout before the fix and on main, and compare the lines).
R=$1; BJ=$R/.venv/bin/bias-judge; T=$(mktemp -d); cd $T
export OMP_NUM_THREADS=1 DVC_NO_ANALYTICS=1
cp $R/params.yaml p.yaml
show() { # name rc errfile
  local lines bytes first; lines=$(wc -l < $3); bytes=$(wc -c < $3); first=$(grep -v '^\s*$' $3 | tail -1 | cut -c1-110)
  printf '%s | rc=%s | stderr %s lines, %s bytes | %s\n' "$1" "$2" "$lines" "$bytes" "$first"; }
$BJ ingest --bbq-dir $R/src/bias_judge/embedded/bbq --out d/bbq.jsonl 2>/dev/null
$BJ ingest --bbq-dir $R/src/bias_judge/embedded/bbq --out d/bbq.real.jsonl 2>/dev/null
echo "2 sidecars of bbq.jsonl and bbq.real.jsonl | $(ls d | tr '\n' ' ')"
$BJ sample --items d/bbq.jsonl --out d/sample.jsonl --params p.yaml 2>/dev/null
# pairs from the template generator (seconds)
sed -e 's/^  generator: llm/  generator: template/' p.yaml > pt.yaml
$BJ candidates --sample d/sample.jsonl --out d/cand.jsonl --params pt.yaml 2>/dev/null
$BJ enrich --candidates d/cand.jsonl --items d/sample.jsonl --out d/enr.jsonl 2>/dev/null
$BJ pairs --candidates d/enr.jsonl --out d/pairs.jsonl --params pt.yaml 2>/dev/null
# 3: duplicated line
(cat d/pairs.jsonl; head -1 d/pairs.jsonl) > d/dup.jsonl
$BJ split --pairs d/dup.jsonl --out d/splitdup --params pt.yaml 2>e; show "3 duplicated pair line -> split" $? e
# 4: non-UTF-8 byte
(head -3 d/pairs.jsonl; printf '{"x": "\xff"}\n') > d/bad.jsonl
$BJ split --pairs d/bad.jsonl --out d/splitbad --params pt.yaml 2>e; show "4 non-UTF-8 byte in pairs -> split" $? e
# 4: --out below a file
$BJ sample --items d/bbq.jsonl --out d/bbq.jsonl/x.jsonl --params p.yaml 2>e; show "4 --out below a file -> sample" $? e
# 6: integer written as float
sed -e 's/^  per_cell: 5/  per_cell: 5.0/' p.yaml > pf.yaml
$BJ sample --items d/bbq.jsonl --out d/s2.jsonl --params pf.yaml 2>e; show "6 sample.per_cell: 5.0" $? e
# 7: a 5 MB field value
python3 -c "
import json;r=json.loads(open('d/pairs.jsonl').readline());r['pair_category']='x'*5_000_000;open('d/huge.jsonl','w').write(json.dumps(r)+'\n')"
$BJ split --pairs d/huge.jsonl --out d/splithuge --params pt.yaml 2>e; show "7 5 MB bad value -> split" $? e
# 8: empty input
: > d/empty.jsonl
$BJ split --pairs d/empty.jsonl --out d/splitempty --params pt.yaml 2>e; show "8 empty pairs file -> split" $? e
# 10: profile name as a path
mkdir -p prof/profiles elsewhere; cp $R/params.yaml prof/; printf 'sample:\n  per_cell: 7\n' > elsewhere/x.yaml
cd prof; $BJ profile use ../../elsewhere/x >/dev/null 2>../e; rc=$?; cd ..; show "10 profile use ../../elsewhere/x" $rc e
echo "10   params.yaml per_cell after it | $(grep -m1 'per_cell' prof/params.yaml)"
# 10: CRLF line endings
sed 's/$/\r/' $R/params.yaml > prof/params.yaml; rm -rf prof/profiles; cp -r $R/profiles prof/; cd prof; $BJ profile use smoke >/dev/null 2>&1; $BJ profile use cpu >/dev/null 2>&1; cd ..
echo "10 CRLF params after profile use smoke+cpu | CRLF lines: $(grep -c $'\r$' prof/params.yaml) of $(wc -l < prof/params.yaml)"
# 9: stale temp file of a killed writer
touch d/.sample.jsonl.999999.k3x9q2.tmp; $BJ sample --items d/bbq.jsonl --out d/sample.jsonl --params p.yaml 2>/dev/null
echo "9 stale temp file of a dead writer, after a rerun | $(ls -a d | grep -c '\.tmp') temp files left"
rm -rf $T
