# Applied to every target we own (third-party headers are SYSTEM includes).
add_compile_options(-Wall -Wextra -Werror -Wno-missing-field-initializers)
if(POPULI_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
