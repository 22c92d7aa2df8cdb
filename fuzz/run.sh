#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [seconds-per-target] (default 60).
#
# Seeds come from tests/fixtures (webhook bodies) and a few hand-written inputs, copied into
# fuzz/corpus/<target> (git-ignored; what the fuzzer finds accumulates there across runs).
# Crashes land in fuzz/artifacts/<target>/; the script then exits non-zero.
#
# Environment: FUZZ_TARGETS="money urls" to run only some, FUZZ_SANITIZER (default: address)
# for cargo fuzz's --sanitizer, FUZZ_TOOLCHAIN (default: nightly).
set -euo pipefail

seconds="${1:-60}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
sanitizer="${FUZZ_SANITIZER:-address}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz_dir")"
fixtures="$root/tests/fixtures"
cd "$root"

if ! cargo +"$toolchain" fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

all_targets="$(cargo +"$toolchain" fuzz list)"
targets="${FUZZ_TARGETS:-$all_targets}"

seed() { # seed <target> <name> <content...>: one seed file from printf-style text
    local target="$1" name="$2"
    shift 2
    mkdir -p "fuzz/corpus/$target"
    # shellcheck disable=SC2059
    printf "$@" >"fuzz/corpus/$target/seed-$name"
}

seed_corpora() {
    local t
    for t in webhook_shopify_order webhook_shopify_refund webhook_woo_order; do
        mkdir -p "fuzz/corpus/$t"
    done
    cp "$fixtures/shopify_order.json" fuzz/corpus/webhook_shopify_order/seed-shopify_order.json
    cp "$fixtures/shopify_refund.json" fuzz/corpus/webhook_shopify_refund/seed-shopify_refund.json
    cp "$fixtures/woo_order.json" "$fixtures/woo_order_with_coupon.json" fuzz/corpus/webhook_woo_order/
    seed webhook_woo_order ping 'webhook_id=12'
    # Click ids in a landing URL and in a note attribute, on a small order.
    seed webhook_shopify_order small '{"id":1,"currency":"EUR","subtotal_price":"10.00","landing_site":"/p?itk_click=0193a5a0-7f3e-7c4e-9a5b-1c2d3e4f5a6b","note_attributes":[{"name":"_itk_click","value":"0193a5a0-7f3e-7c4e-9a5b-1c2d3e4f5a6b:1763800000, 0193a5a0-7f3e-7c4e-9a5b-000000000001"}],"discount_codes":[{"code":" anna15 "}],"email":"A@B.example"}'
    # money: 8 bytes of micros, 1 byte of minimum digits, then the text.
    seed money plain '\0\0\0\0\0\0\0\0\0129.90'
    seed money tiny '\1\0\0\0\0\0\0\0\2%s' '0.000001'
    seed money zeros '\0\0\0\0\0\0\0\0\0%s' '10.5000000'
    seed money large '\0\0\0\0\0\0\0\0\0%s' '1000000000000'
    seed codes vanity ' anna15 '
    seed codes link 'aZ09bY18'
}

seed_corpora

echo "building $(echo "$targets" | wc -w) targets (sanitizer: $sanitizer)" >&2
cargo +"$toolchain" fuzz build --debug-assertions --sanitizer "$sanitizer"

failed=()
summary=()
for target in $targets; do
    dict=""
    case "$target" in
        webhook_*) dict="$fuzz_dir/dict/webhooks.dict" ;;
        *) [ -f "$fuzz_dir/dict/$target.dict" ] && dict="$fuzz_dir/dict/$target.dict" ;;
    esac
    log="$fuzz_dir/artifacts/$target.log"
    mkdir -p "$fuzz_dir/artifacts/$target" "fuzz/corpus/$target"
    echo "=== $target: ${seconds}s" >&2
    status=0
    # One job (the machine is shared); a slow input counts as a failure too.
    cargo +"$toolchain" fuzz run --debug-assertions --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        ${dict:+-dict="$dict"} >"$log" 2>&1 || status=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    corpus="$(find "fuzz/corpus/$target" -type f | wc -l)"
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        summary+=("$(printf '%-24s FAILED (exit %s) after %s execs; see %s' "$target" "$status" "${execs:-?}" "$log")")
        grep -E '^(==[0-9]+==|thread .* panicked|SUMMARY|Test unit written|artifact_prefix)' "$log" | head -n 20 >&2 || true
    else
        summary+=("$(printf '%-24s ok  %12s execs in %ss, corpus %s' "$target" "${execs:-?}" "$seconds" "$corpus")")
    fi
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/; replay with" \
        "cargo +$toolchain fuzz run <target> <file>)" >&2
    exit 1
fi
