# Plan helpers of bench/run.sh (sourced): phase lists as comma-separated strings.

plan_java() { local p out=(); IFS=',' read -r -a ps <<<"$1"; for p in "${ps[@]}"; do [[ "$p" == open:* ]] || out+=("$p"); done; (IFS=,; echo "${out[*]}"); }
plan_insert() { # plan phases: PHASES before the first fill (or at the end)
  local p out=() put=0; IFS=',' read -r -a ps <<<"$1"
  for p in "${ps[@]}"; do
    if [[ "$p" == fill:* ]] && ((!put)) && [[ -n "$2" ]]; then out+=("$2"); put=1; fi
    out+=("$p")
  done
  ((put)) || [[ -z "$2" ]] || out+=("$2")
  (IFS=,; echo "${out[*]}")
}
# The phases before the first fill (the main leg), and from the first fill on (the backlog leg).
plan_head() { local p out=(); IFS=',' read -r -a ps <<<"$1"; for p in "${ps[@]}"; do [[ "$p" == fill:* ]] && break; out+=("$p"); done; (IFS=,; echo "${out[*]}"); }
plan_tail() { local p out=() on=0; IFS=',' read -r -a ps <<<"$1"; for p in "${ps[@]}"; do [[ "$p" == fill:* ]] && on=1; ((on)) && out+=("$p"); done; (IFS=,; echo "${out[*]}"); }
plan_before_tail() { join_plans "$(plan_head "$1")" "$2" "$(plan_tail "$1")"; } # plan phases
join_plans() { local p out=(); for p in "$@"; do [[ -z "$p" ]] || out+=("$p"); done; (IFS=,; echo "${out[*]}"); }
# How long a driver may take for PLAN: every phase its window and 10 s of drain; fill, consume,
# e2e (topic, probes) and scale (topics, groups) their bound; scale also its settle and idle time.
plan_timeout() { # plan
  local p t=$((120 + INITIAL_WARMUP_MS / 1000)); IFS=',' read -r -a ps <<<"$1"
  for p in "${ps[@]}"; do
    t=$((t + (WARMUP_MS + MEASURE_MS) / 1000 + 10))
    case "$p" in
      fill:*|consume|e2e:*) t=$((t + PHASE_TIMEOUT_MS / 1000));;
      scale:*) t=$((t + (PHASE_TIMEOUT_MS + SETTLE_MS + MEASURE_MS) / 1000 + 30));;
    esac
  done
  echo "$t"
}
