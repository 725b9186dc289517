package main

import "runtime/debug"

func initVersion() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/apache/rocketmq-client-go/v2" {
			clientVersion = d.Version
			if d.Replace != nil {
				clientVersion = d.Replace.Version
			}
		}
	}
}
