package lab

var stage2Tests = []*Test{}
