package lab

var stage3Tests = []*Test{}
