module lambdafn

go 1.22

require github.com/aws/aws-lambda-go v1.55.1
