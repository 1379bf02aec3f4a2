echo $"hello" $"$(id)"
