# bench/dtls/breakdown.awk — where one process's CPU went, from `perf script` output
# recorded with call graphs (one paragraph per sample, the leaf frame first).
#
#   perf script -i perf.data | awk -v PID=1234 -v MARKERS="label=a|b&c!d;..." \
#       -f bench/dtls/breakdown.awk
#
# For each marker, the share of PID's samples whose stack holds one of its symbols (and one
# of each "&" group) and none of its "!" symbols: inclusive, so markers overlap (a
# breakdown, not a partition). A label's leading spaces are kept, for nesting. Markers with
# no sample are not printed.
BEGIN {
    RS = ""
    FS = "\n"
    n = split(MARKERS, m, ";")
    for (i = 1; i <= n; i++) {
        eq = index(m[i], "=")
        label[i] = substr(m[i], 1, eq - 1)
        k = split(substr(m[i], eq + 1), parts, "!")
        yes[i] = parts[1] # groups separated by "&", each a "|" list
        no[i] = ""
        for (j = 2; j <= k; j++)
            no[i] = no[i] (j > 2 ? "|" : "") parts[j]
    }
}

function any(list,    k, arr, j) {
    k = split(list, arr, "|")
    for (j = 1; j <= k; j++)
        if (arr[j] in seen)
            return 1
    return 0
}

function all(groups,    k, arr, j) {
    k = split(groups, arr, "&")
    for (j = 1; j <= k; j++)
        if (!any(arr[j]))
            return 0
    return 1
}

{
    split($1, head, " ")
    if (head[2] != PID)
        next
    total++
    delete seen
    for (f = 2; f <= NF; f++) {
        sym = $f
        sub(/^[ \t]*[0-9a-f]+ /, "", sym)
        sub(/\+0x[0-9a-f]+.*/, "", sym)
        sub(/ \(.*/, "", sym)
        seen[sym] = 1
    }
    for (i = 1; i <= n; i++)
        if (all(yes[i]) && (no[i] == "" || !any(no[i])))
            count[i]++
}

END {
    printf "%s samples of pid %s\n", total + 0, PID
    if (total == 0)
        exit
    for (i = 1; i <= n; i++)
        if (count[i] > 0)
            printf "  %6.1f%%  %s\n", 100 * count[i] / total, label[i]
}
