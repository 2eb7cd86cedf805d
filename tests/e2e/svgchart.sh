#!/bin/sh
# svgchart: the charts of lib/svgchart.c (mailshot-report --format html),
# rendered by headless Chromium through tests/peers/render.py, not just
# read as text.  tests/tools/svgdemo writes a page from fixed data with
# hostile labels; Chromium's DOM must hold exactly the segments and values
# given, the hostile labels as text (no element made from data), the "no
# data" charts, and its screenshot the series colours as pixels.
# Without Chromium (render.py exits 77) the test is skipped, except in CI
# (CI=true), where tools/install-deps installs it and its absence fails.
. "$(dirname "$0")/lib.sh"

page=$T/demo.html
expect_rc 0 "svgdemo writes the page" -- $wrap "$TOOLS/tool_svgdemo"
cp "$T/out" "$page"

# The expected numbers are svgdemo's data: 12 buckets with 33 non-zero
# values, 7 domain rows with 17.
$PY "$ROOT/tests/peers/render.py" "$page" --out "$T/render" --timeout 60 \
	--expect 'svg.chart[role="img"]' 4 \
	--expect 'script' 0 \
	--expect-text 'head > title' 'mailshot svgchart demo' \
	--expect 'svg#outcomes rect.seg' 33 \
	--expect 'svg#outcomes > g.bucket' 12 \
	--expect 'svg#outcomes > g.legend > g.legend-item' 4 \
	--expect 'svg#outcomes rect.seg[data-series="expired"]' 3 \
	--expect 'svg#outcomes rect.seg[data-index="7"][data-series="expired"][data-value="7"]' 1 \
	--expect-text 'svg#outcomes rect.seg[data-index="0"][data-series="delivered"]' \
		'delivered 12:00–12:05: 341' \
	--expect 'svg#outcomes text.tick.x' 12 \
	--expect-text 'svg#outcomes text.tick.x[data-index="11"]' '12:55' \
	--expect-text 'svg#outcomes text.tick.y[data-index="4"]' '800' \
	--expect 'svg#domains rect.seg' 17 \
	--expect 'svg#domains text.label' 7 \
	--expect 'svg#domains rect.seg[data-value="666"]' 0 \
	--expect 'svg#domains g.row > rect.seg[data-index="1"][data-value="300"]' 1 \
	--expect 'svg#domains text.label *' 0 \
	--expect-text 'svg#domains text.label[data-index="1"]' '<script>alert(1)</script>' \
	--expect-text 'svg#domains text.label[data-index="2"]' '"><rect class="seg" data-va…' \
	--expect-text 'svg#domains text.label[data-index="4"]' 'bücher.example' \
	--expect-text 'svg#domains text.label[data-index="5"]' 'bad��utf8.example' \
	--expect-text 'svg#domains text.label[data-index="6"]' 'nul�byte.example' \
	--expect-text 'svg#domains text.value[data-index="0"]' '2152' \
	--expect 'p#reply *' 0 \
	--expect-contains 'p#reply' "<script>document.title='pwned'</script> & \"quoted\"� second line �" \
	--expect 'svg#empty-outcomes rect.seg' 0 \
	--expect-text 'svg#empty-outcomes text.nodata' 'no data' \
	--expect 'svg#zero-domains rect.seg' 0 \
	--expect-text 'svg#zero-domains text.nodata' 'no data' \
	--expect 'svg#zero-domains text.value' 2 \
	--expect-color '#009E73' 50000 \
	--expect-color '#E69F00' 3000 \
	--expect-color '#D55E00' 1000 \
	--expect-color '#CC79A7' 300 \
	--min-colors 20 \
	>"$T/render.out" 2>"$T/render.err"
rc=$?
if [ $rc -eq 77 ]; then
	if [ "${CI:-}" = true ]; then
		fail "no chromium to render with (tools/install-deps installs it): $(cat "$T/render.err")"
	else
		echo "svgchart: skipped: $(cat "$T/render.err")"
	fi
	finish
	exit
fi
if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
	fail "render.py exited $rc"
	sed 's/^/    /' "$T/render.err" | tail -10
	finish
	exit
fi
while IFS= read -r line; do
	case $line in
	"ok: "*) pass ;;
	"FAIL: "*) fail "${line#FAIL: }" ;;
	esac
done <"$T/render.out"

# The summary a shell test can grep, and Chromium's own serialization.
S=$T/render/summary.txt
expect_eq "$(grep -c '^seg ' "$S" 2>/dev/null)" 50 "segments in the summary"
expect_grep '^seg outcomes 0 delivered 341$' "$S" "first delivered segment"
expect_grep '^seg outcomes 11 expired 1$' "$S" "last expired segment"
expect_grep '^seg domains 3 bounced 30$' "$S" "a domain segment"
expect_grep '^count class nodata 2$' "$S" "two no-data charts"
expect_grep '&lt;script&gt;alert\(1\)&lt;/script&gt;' "$T/render/dom.html" "hostile label serialized as text"
expect_no_grep '<script' "$T/render/dom.html" "no script element"
expect_grep '^text reply 550 5\.7\.1 <script>' "$S" "reply text"
head -1 "$T/render.out"
finish
