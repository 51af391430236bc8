"""Infrastructure: the CloudFormation merge template and the local runtime on moto."""
