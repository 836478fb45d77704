//go:build !linux

package tcp

func bindNoPort(int) {}
