//go:build !unix

package main

func guard() {}
