package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func report(w io.Writer, fns []function, results map[string]*result, runs, pairs int, goarch string) {
	hello, lit := results["hello"], results["hellolit"]
	fmt.Fprintf(w, "linux/%s, -tags lambda.norpc -trimpath -ldflags='-s -w'\n\n", goarch)

	fmt.Fprintf(w, "Size and process init CPU (each bootstrap run without a runtime API, exits at lambda.Start; %d rounds, each run back to back\n", pairs)
	fmt.Fprintln(w, "with one of hello and, for a function, one of hellolit; ratios are medians of the per-round ratios; CPU = user + system from rusage)")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "program\tsize (bytes)\tsize ×hello\tsize ×hellolit\tinit CPU median (ms)\tmin (ms)\tinit CPU ×hello median\t×hello min\tinit CPU ×hellolit\t")
	for _, f := range fns {
		r := results[f.name]
		if r.err != nil {
			fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\t\t\t\n", f.name)
			continue
		}
		row := []string{f.name, strconv.FormatInt(r.size, 10), "", "", ms(median(r.cpu)), ms(minimum(r.cpu)), "", "", ""}
		sizeX := float64(r.size) / float64(hello.size)
		cpuX := medianRatio(r.cpu, r.helloCPU)
		if f.name == "hello" {
			row[6] = fmt.Sprintf("%.2f (hello/hello)", cpuX)
		} else {
			row[2] = verdict(sizeX, sizeTarget, f.baseline())
			row[6] = verdict(cpuX, initCPUTarget, f.baseline())
			row[7] = fmt.Sprintf("%.2f", float64(minimum(r.cpu))/float64(minimum(r.helloCPU)))
		}
		if !f.baseline() && lit.err == nil {
			row[3] = verdict(float64(r.size)/float64(lit.size), hellolitTarget, false)
			row[8] = verdict(medianRatio(r.cpu, r.litCPU), hellolitTarget, false)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()

	fmt.Fprintf(w, "\nUnder the emulator (median of %d cold starts, fresh aws-lambda-rie each)\n\n", runs)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "program\tstart (ms)\tstart ×hello\tinit (ms)\tinit ×hello\tstart ×hellolit\tstart ×hellosdk\t")
	sdk := results["hellosdk"]
	for _, f := range fns {
		r := results[f.name]
		if r.err != nil || r.startErr != nil || len(r.starts) == 0 {
			fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\t\n", f.name)
			continue
		}
		start, initDur := median(r.starts), median(r.inits)
		row := []string{f.name, ms(start), "", ms(initDur), "", "", ""}
		if f.name != "hello" && len(hello.starts) > 0 {
			row[2] = verdict(float64(start)/float64(median(hello.starts)), startTarget, f.baseline())
			row[4] = fmt.Sprintf("%.2f", float64(initDur)/float64(median(hello.inits)))
		}
		if !f.baseline() {
			if len(lit.starts) > 0 {
				row[5] = fmt.Sprintf("%.2f", float64(start)/float64(median(lit.starts)))
			}
			if len(sdk.starts) > 0 {
				row[6] = fmt.Sprintf("%.2f", float64(start)/float64(median(sdk.starts)))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()

	fmt.Fprintf(w, "\ntargets: size ≤ %.2f× hello, init CPU ≤ %.1f× hello (median of the pair ratios), each function ≤ %.2f× hellolit on both;\n", sizeTarget, initCPUTarget, hellolitTarget)
	fmt.Fprintf(w, "start ≤ %.1f× hello. start = emulator launch → first successful response; init = the emulator's INIT REPORT.\n", startTarget)
	fmt.Fprintln(w, "hellosdk = hello + config.LoadDefaultConfig + the DynamoDB and Secrets Manager clients + one GetItem per invoke;")
	fmt.Fprintln(w, "hellolit = the same with the clients built by internal/awsenv (no config package), as the functions build theirs.")
	for _, f := range fns {
		r := results[f.name]
		if r.err != nil {
			fmt.Fprintf(w, "\n%s: %v\n", f.name, r.err)
		} else if r.startErr != nil {
			fmt.Fprintf(w, "\n%s (start): %v\n", f.name, r.startErr)
		}
	}
}

// verdict prints a ratio, and for the project's functions whether it meets
// its target (baselines are shown without one).
func verdict(x, target float64, baseline bool) string {
	if baseline {
		return fmt.Sprintf("%.2f", x)
	}
	v := "ok"
	if x > target {
		v = "over"
	}
	return fmt.Sprintf("%.2f %s", x, v)
}

// medianRatio is the median of a[i]/b[i] over the pairs.
func medianRatio(a, b []time.Duration) float64 {
	rs := make([]float64, 0, len(a))
	for i := range a {
		if i < len(b) && b[i] > 0 {
			rs = append(rs, float64(a[i])/float64(b[i]))
		}
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minimum(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Min(ds)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// reportSecrets prints the Secrets Manager variants: the first answer's
// latency with its Secrets Manager calls counted, against the same function
// with plain secrets (no Secrets Manager call) measured in the same rounds.
func reportSecrets(w io.Writer, variants []smVariant, results map[string]*result, rtt time.Duration) {
	fmt.Fprintf(w, "\nWith the secrets in Secrets Manager (moto behind a recording proxy adding %v per call; median of the cold starts)\n\n", rtt)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "program\tSM calls\tSM round trips in sequence\tstart (ms)\tstart ×plain secrets\tstart ×hello\t")
	hello := results["hello"]
	for _, v := range variants {
		r, base := results[v.name], results[v.base]
		if r.err != nil || r.startErr != nil || len(r.starts) == 0 {
			fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\n", v.name)
			continue
		}
		row := []string{v.name, medianInt(r.smCalls), medianInt(r.smSerial), ms(median(r.starts)), "", ""}
		if len(base.starts) > 0 {
			row[4] = fmt.Sprintf("%.2f", float64(median(r.starts))/float64(median(base.starts)))
		}
		if len(hello.starts) > 0 {
			row[5] = fmt.Sprintf("%.2f", float64(median(r.starts))/float64(median(hello.starts)))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintln(w, "authorize+sm: events/authorize.json with its return_to and app_state in a connect token (REQUIRE_CONNECT_TOKEN=true);")
	fmt.Fprintln(w, "callback+sm: events/callback.json (400 invalid_state). ×plain secrets: the same function and event with OAUTH_* values, same rounds.")
	for _, v := range variants {
		if r := results[v.name]; r.startErr != nil {
			fmt.Fprintf(w, "\n%s (start): %v\n", v.name, r.startErr)
		}
	}
}

// medianInt prints the median of ns (the lower middle of an even count)
// and, when they differ, the range.
func medianInt(ns []int) string {
	s := slices.Clone(ns)
	slices.Sort(s)
	m := s[(len(s)-1)/2]
	if s[0] != s[len(s)-1] {
		return fmt.Sprintf("%d (%d–%d)", m, s[0], s[len(s)-1])
	}
	return strconv.Itoa(m)
}
