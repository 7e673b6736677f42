# Sourced by scripts/setup and .ci/run: `stage <name> <command...>` runs the command and, when
# GLUE_STAGE_TIMES names a file, appends "<name> <seconds>" to it ("failed" after a failure).
stage() {
    local name=$1 began=$SECONDS status=0
    shift
    "$@" || status=$?
    [ -z "${GLUE_STAGE_TIMES:-}" ] ||
        echo "$name $((SECONDS - began))$( ((status == 0)) || echo " failed")" >>"$GLUE_STAGE_TIMES"
    return $status
}
